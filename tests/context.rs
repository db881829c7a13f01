//! The GPU context: limits become clear errors, an application's own device can be handed
//! over, and GPU validation problems come back as errors rather than crashes.

mod common;

use brine::gpu::{Access, Kernel};
use brine::{Backend, Context, Error, Gpu};

#[test]
fn a_tensor_beyond_the_binding_limit_is_an_error() {
    let Some(ctx) = common::gpu() else { return };
    let too_many = (ctx.max_binding_bytes() / 4 + 1) as usize;
    match ctx.zeros("conv2d", "y", too_many) {
        Err(Error::TooLarge { op, tensor, bytes, limit }) => {
            assert_eq!((op.as_str(), tensor.as_str()), ("conv2d", "y"));
            assert!(bytes > limit);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn an_application_device_can_be_handed_over() {
    if common::gpu().is_none() {
        return;
    }
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .expect("an adapter, since common::gpu() found one");
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let ctx = Context::from_device(device, queue, adapter.get_info());
    let g = Gpu::new(&ctx);
    let a = g.upload("a", &[1.0, 2.0, 3.0]).unwrap();
    let b = g.upload("b", &[10.0, 20.0, 30.0]).unwrap();
    assert_eq!(g.download(&g.add(&a, &b).unwrap()).unwrap(), vec![11.0, 22.0, 33.0]);
}

#[test]
fn a_bad_dispatch_is_an_error_not_a_crash() {
    let Some(ctx) = common::gpu() else { return };
    static BROKEN: brine::gpu::Shader = brine::gpu::Shader {
        name: "broken_test",
        source: "@compute @workgroup_size(1) fn broken_test_main() { let x: u32 = 1.5; }",
    };
    static K: Kernel = Kernel { shader: &BROKEN, entry: "broken_test_main", bindings: &[Access::Read] };
    let t = ctx.upload("t", &[1.0f32]).unwrap();
    // Wrong number of buffers for the layout.
    assert!(matches!(ctx.run(&K, &[0u32; 4], &[], [1, 1, 1]), Err(Error::Gpu(_))));
    // A shader that does not compile.
    assert!(matches!(ctx.run(&K, &[0u32; 4], &[&t], [1, 1, 1]), Err(Error::Gpu(_))));
}
