//! Embedding brine in a wgpu application: the application creates its own device and an
//! input buffer, hands both to brine, runs attention U-Net inference on the GPU and reads
//! the result from a buffer brine returns; then a `Runner` on the same device trains the
//! network a few steps (one submission and no host sync each) and predicts.
//! Run: `cargo run --release --example embed`.

use brine::device::Device;
use brine::graph::exec::Store;
use brine::nn::programs::{Inference, LossKind, init_store};
use brine::nn::{Attention, Config};
use brine::ops::Adam;
use brine::runner::{Init, Runner};
use brine::{Backend, Context, Gpu, GpuTensor};
use wgpu::util::DeviceExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application's own device, as it would already have one.
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))?;

    // A buffer the application owns: one 8-channel 64×32 image.
    let shape = [1, 8, 64, 32];
    let pixels: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| ((i % 97) as f32 / 97.0) - 0.5).collect();
    let app_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("app input"),
        contents: bytemuck::cast_slice(&pixels),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
    });

    // Hand the device to brine; wrap the application's buffer without copying it.
    let device = Device::from_context(Context::from_device(device, queue, adapter.get_info()));
    let ctx = device.gpu().expect("a GPU device");
    let gpu = Gpu::new(ctx);
    let cfg =
        Config { in_channels: 8, out_channels: 1, widths: vec![16, 32, 64], attention: Attention::Cbam, gates: true };
    let mut store: Store<GpuTensor> = init_store(&gpu, &cfg, 42)?;
    let input = GpuTensor { buffer: app_buffer.clone(), len: pixels.len() };

    let net = Inference::new(&cfg, shape)?;
    let before = gpu.counters();
    gpu.begin_batch();
    let output = net.run(&gpu, &mut store, &input)?;
    gpu.flush()?;
    let done = gpu.counters() - before;

    // The result is a wgpu buffer too (`output.buffer`); here we read it back.
    let values = gpu.download(&output)?;
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    println!("adapter: {}", ctx.adapter_name());
    println!(
        "inference of {shape:?}: {} outputs, mean {mean:.5}, {} dispatches in {} submission(s)",
        values.len(),
        done.dispatches,
        done.submissions
    );

    // Training on the same device: the runner owns parameters, Adam state and both programs.
    let l1 = LossKind::L1;
    let mut runner = Runner::training(&device, &cfg, shape, l1, Adam::default(), Init::Seed(42))?;
    let target = vec![0.25f32; 64 * 32];
    let before = runner.counters().unwrap_or_default();
    for _ in 0..3 {
        runner.step(&pixels, &target)?;
    }
    let done = runner.counters().unwrap_or_default() - before;
    let losses = runner.losses()?;
    println!(
        "3 training steps: {} submission(s), {} host sync(s); losses {losses:?}; prediction mean {:.5}",
        done.submissions,
        done.syncs,
        runner.predict(&pixels)?.iter().sum::<f32>() / (64 * 32) as f32
    );
    Ok(())
}
