use std::sync::Arc;

use wgpu::util::DeviceExt;

use super::{Context, GpuTensor, Timer};
use crate::error::{Error, Result};

/// A WGSL file, compiled once per context.
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
}

/// How an entry point uses one storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
    /// A uniform buffer made by `Context::uniform`: parameters shared by many dispatches
    /// and rewritten between replays (Adam's per-step scalars).
    Uniform,
}

/// One entry point and its explicit bind group layout: binding 0 is the uniform parameter
/// struct, bindings 1.. are storage buffers in the order listed.
pub struct Kernel {
    pub shader: &'static Shader,
    pub entry: &'static str,
    pub bindings: &'static [Access],
}

pub(super) struct CachedPipeline {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// What a capture has recorded, and the buffers released during it, by size.
#[derive(Default)]
struct Capture {
    commands: Vec<Command>,
    free: std::collections::HashMap<u64, Vec<wgpu::Buffer>>,
}

enum Command {
    Dispatch { pipeline: Arc<CachedPipeline>, bind_group: wgpu::BindGroup, groups: [u32; 3] },
    Clear(wgpu::Buffer),
    Copy { src: wgpu::Buffer, dst: wgpu::Buffer, size: u64 },
}

/// Captured dispatches with their bind groups, made once and replayed every step.
pub struct Program {
    commands: Vec<Command>,
}

impl Program {
    pub fn dispatches(&self) -> usize {
        self.commands.iter().filter(|c| matches!(c, Command::Dispatch { .. })).count()
    }
}

/// Workgroup counts for `groups` workgroups in a 1-D launch, folded into y when x would pass
/// the 65 535 limit. Shaders rebuild the linear index as `wid.x + wid.y * nwg.x`.
pub fn grid(groups: usize) -> [u32; 3] {
    const MAX: usize = 65_535;
    let groups = groups.max(1);
    if groups <= MAX { [groups as u32, 1, 1] } else { [MAX as u32, groups.div_ceil(MAX) as u32, 1] }
}

impl Context {
    fn pipeline(&self, k: &Kernel) -> Result<Arc<CachedPipeline>> {
        let key = (k.shader.name, k.entry);
        if let Some(p) = self.pipelines.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        let mut modules = self.modules.lock().unwrap();
        let module = modules.entry(k.shader.name).or_insert_with(|| {
            self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(k.shader.name),
                source: wgpu::ShaderSource::Wgsl(k.shader.source.into()),
            })
        });
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }];
        for (i, a) in k.bindings.iter().enumerate() {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: i as u32 + 1,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match a {
                        Access::Uniform => wgpu::BufferBindingType::Uniform,
                        _ => wgpu::BufferBindingType::Storage { read_only: *a == Access::Read },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(k.entry), entries: &entries });
        let pl = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(k.entry),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(k.entry),
            layout: Some(&pl),
            module,
            entry_point: Some(k.entry),
            compilation_options: Default::default(),
            cache: None,
        });
        drop(modules);
        let p = Arc::new(CachedPipeline { pipeline, layout });
        self.pipelines.lock().unwrap().insert(key, p.clone());
        Ok(p)
    }

    /// Starts recording dispatches into one command encoder.
    pub fn recorder(&self) -> Recorder<'_> {
        Recorder {
            ctx: self,
            encoder: self.device.create_command_encoder(&Default::default()),
            scope: Some(self.device.push_error_scope(wgpu::ErrorFilter::Validation)),
            timer: None,
            dispatches: 0,
            capture: None,
        }
    }

    /// Starts capturing: dispatches are kept, with their bind groups, as a `Program` that
    /// can be replayed any number of times; nothing runs until then. While capturing,
    /// buffers handed back with `Recorder::recycle` serve later allocations of the same
    /// capture (cleared first).
    pub fn capture(&self) -> Recorder<'_> {
        let mut r = self.recorder();
        r.capture = Some(Capture::default());
        r
    }

    /// Records one dispatch and submits it at once.
    pub fn run<P: bytemuck::Pod>(&self, k: &Kernel, params: &P, bufs: &[&GpuTensor], groups: [u32; 3]) -> Result<()> {
        let mut r = self.recorder();
        r.dispatch(k, params, bufs, groups)?;
        r.submit()
    }
}

/// Dispatches recorded into one encoder, submitted together. GPU validation errors raised
/// while recording come back from `submit` as `Error::Gpu`.
pub struct Recorder<'a> {
    ctx: &'a Context,
    encoder: wgpu::CommandEncoder,
    scope: Option<wgpu::ErrorScopeGuard>,
    timer: Option<&'a mut Timer>,
    dispatches: usize,
    capture: Option<Capture>,
}

impl<'a> Recorder<'a> {
    /// Dispatches recorded so far.
    pub fn dispatches(&self) -> usize {
        self.dispatches
    }

    /// Times every dispatch recorded from now on with GPU timestamps.
    pub fn with_timer(mut self, timer: &'a mut Timer) -> Self {
        self.timer = Some(timer);
        self
    }

    pub fn context(&self) -> &'a Context {
        self.ctx
    }

    pub fn dispatch<P: bytemuck::Pod>(
        &mut self,
        k: &Kernel,
        params: &P,
        bufs: &[&GpuTensor],
        groups: [u32; 3],
    ) -> Result<()> {
        if bufs.len() != k.bindings.len() {
            return Err(Error::Gpu(format!(
                "{}: {} buffers bound, the layout has {}",
                k.entry,
                bufs.len(),
                k.bindings.len()
            )));
        }
        let p = self.ctx.pipeline(k)?;
        // Uniform bindings are read in 16-byte rows: pad the parameter block.
        let mut bytes = bytemuck::bytes_of(params).to_vec();
        bytes.resize(bytes.len().div_ceil(16).max(1) * 16, 0);
        let ubuf = self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(k.entry),
            contents: &bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: ubuf.as_entire_binding() }];
        for (i, b) in bufs.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: b.buffer.as_entire_binding() });
        }
        let bg = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(k.entry),
            layout: &p.layout,
            entries: &entries,
        });
        self.dispatches += 1;
        if let Some(c) = self.capture.as_mut() {
            c.commands.push(Command::Dispatch { pipeline: p, bind_group: bg, groups });
            return Ok(());
        }
        let timestamp_writes = self.timer.as_mut().and_then(|t| t.pass_writes());
        let mut pass =
            self.encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(k.entry), timestamp_writes });
        pass.set_pipeline(&p.pipeline);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        Ok(())
    }

    /// Copies one tensor into another of the same length, in stream order.
    pub fn copy(&mut self, src: &GpuTensor, dst: &GpuTensor) -> Result<()> {
        if src.len != dst.len {
            return Err(Error::Gpu(format!("copy: {} elements into {}", src.len, dst.len)));
        }
        let size = (src.len * 4) as u64;
        match self.capture.as_mut() {
            Some(c) => c.commands.push(Command::Copy { src: src.buffer.clone(), dst: dst.buffer.clone(), size }),
            None => self.encoder.copy_buffer_to_buffer(&src.buffer, 0, &dst.buffer, 0, size),
        }
        Ok(())
    }

    /// Records a captured program; consecutive dispatches share one compute pass.
    pub fn replay(&mut self, program: &Program) -> Result<()> {
        if self.capture.is_some() {
            return Err(Error::Gpu("a program cannot be replayed into a capture".into()));
        }
        let mut commands = program.commands.iter().peekable();
        while let Some(c) = commands.next() {
            match c {
                Command::Clear(b) => self.encoder.clear_buffer(b, 0, None),
                Command::Copy { src, dst, size } => self.encoder.copy_buffer_to_buffer(src, 0, dst, 0, *size),
                Command::Dispatch { pipeline, bind_group, groups } => {
                    let mut pass = self.encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                    let mut next = Some((pipeline, bind_group, groups));
                    while let Some((p, bg, g)) = next {
                        pass.set_pipeline(&p.pipeline);
                        pass.set_bind_group(0, bg, &[]);
                        pass.dispatch_workgroups(g[0], g[1], g[2]);
                        self.dispatches += 1;
                        next = match commands.peek() {
                            Some(Command::Dispatch { pipeline, bind_group, groups }) => {
                                commands.next();
                                Some((pipeline, bind_group, groups))
                            }
                            _ => None,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// A zero-filled tensor for the ops being recorded. While capturing, a buffer released
    /// earlier in the capture is reused when one of the size is free (cleared in stream order).
    pub fn zeros(&mut self, op: &str, tensor: &str, len: usize) -> Result<GpuTensor> {
        if let Some(c) = self.capture.as_mut() {
            let size = (len.max(1) * 4) as u64;
            if let Some(buffer) = c.free.get_mut(&size).and_then(Vec::pop) {
                c.commands.push(Command::Clear(buffer.clone()));
                return Ok(GpuTensor { buffer, len });
            }
        }
        self.ctx.zeros(op, tensor, len)
    }

    /// Hands back a tensor that nothing recorded later reads, so that a later allocation of
    /// this capture can reuse its buffer (outside a capture it is simply dropped).
    pub fn recycle(&mut self, t: GpuTensor) {
        if let Some(c) = self.capture.as_mut() {
            c.free.entry(t.buffer.size()).or_default().push(t.buffer);
        }
    }

    /// Ends a capture: the program, or the first validation error raised while capturing.
    pub fn finish_capture(mut self) -> Result<Program> {
        let commands = self
            .capture
            .take()
            .ok_or_else(|| Error::Gpu("finish_capture on a recorder that is not capturing".into()))?
            .commands;
        if let Some(err) = self.scope.take().and_then(|s| pollster::block_on(s.pop())) {
            return Err(Error::Gpu(err.to_string()));
        }
        Ok(Program { commands })
    }

    pub fn is_capturing(&self) -> bool {
        self.capture.is_some()
    }

    /// Submits everything recorded; returns the first validation error, if any.
    pub fn submit(self) -> Result<()> {
        self.submit_indexed().map(|_| ())
    }

    /// `submit`, returning the submission's index (to wait for that one alone).
    pub fn submit_indexed(mut self) -> Result<wgpu::SubmissionIndex> {
        if self.capture.is_some() {
            return Err(Error::Gpu("submit on a capturing recorder: use finish_capture".into()));
        }
        if let Some(t) = self.timer.as_mut() {
            t.resolve(&mut self.encoder);
        }
        let Recorder { ctx, encoder, mut scope, dispatches, .. } = self;
        let index = ctx.queue.submit([encoder.finish()]);
        super::context::count(|c| {
            c.dispatches += dispatches;
            c.submissions += 1;
        });
        if let Some(err) = scope.take().and_then(|s| pollster::block_on(s.pop())) {
            return Err(Error::Gpu(err.to_string()));
        }
        Ok(index)
    }
}
