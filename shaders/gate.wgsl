// gate kernels
