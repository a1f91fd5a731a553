// The labs' error check: a failed CUDA runtime call prints where it was and ends the program.
#pragma once
#include <cstdio>
#include <cstdlib>

#define CHECK(x)                                                                                    \
  do {                                                                                              \
    cudaError_t e = (x);                                                                            \
    if (e != cudaSuccess) {                                                                         \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e), __FILE__, __LINE__);          \
      std::exit(1);                                                                                 \
    }                                                                                               \
  } while (0)
