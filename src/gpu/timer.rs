use super::Context;
use crate::error::{Error, Result};

const CAPACITY: u32 = 4096;

/// GPU timestamps around compute passes, for benchmarks. `None` from `new` when the
/// adapter has no timestamp queries; callers then time with the wall clock.
pub struct Timer {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    next: u32,
    resolved: u32,
    period_ns: f64,
}

impl Timer {
    pub fn new(ctx: &Context) -> Option<Timer> {
        if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("timer"),
            ty: wgpu::QueryType::Timestamp,
            count: CAPACITY,
        });
        let size = CAPACITY as u64 * 8;
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timer resolve"),
            size,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timer readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Some(Timer { set, resolve, readback, next: 0, resolved: 0, period_ns: ctx.queue.get_timestamp_period() as f64 })
    }

    /// Begin/end writes for the next pass, while room is left.
    pub(super) fn pass_writes(&mut self) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        if self.next + 2 > CAPACITY {
            return None;
        }
        let i = self.next;
        self.next += 2;
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(i),
            end_of_pass_write_index: Some(i + 1),
        })
    }

    pub(super) fn resolve(&mut self, enc: &mut wgpu::CommandEncoder) {
        if self.next == 0 {
            return;
        }
        enc.resolve_query_set(&self.set, 0..self.next, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, self.next as u64 * 8);
        self.resolved = self.next;
    }

    /// Sum of the timed passes' GPU durations in milliseconds; resets the timer.
    pub fn take_ms(&mut self, ctx: &Context) -> Result<f64> {
        let n = self.resolved as u64;
        self.next = 0;
        self.resolved = 0;
        if n == 0 {
            return Ok(0.0);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.readback.map_async(wgpu::MapMode::Read, ..n * 8, move |r| {
            let _ = tx.send(r);
        });
        ctx.wait()?;
        rx.recv().map_err(|e| Error::Gpu(e.to_string()))?.map_err(|e| Error::Gpu(e.to_string()))?;
        let view = self.readback.get_mapped_range(..n * 8).map_err(|e| Error::Gpu(e.to_string()))?;
        let ticks: &[u64] = bytemuck::cast_slice(&view);
        let total: u64 = ticks.chunks(2).map(|p| p[1].saturating_sub(p[0])).sum();
        drop(view);
        self.readback.unmap();
        Ok(total as f64 * self.period_ns / 1e6)
    }
}
