// conv2d kernels
