// batchnorm kernels
