// What every op family shares: the error a bad call raises, the oneDNN engine and stream, and the
// codes shared with TypeScript. How entry points are declared and their arguments read: entry.h.
#pragma once
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

namespace ns {

// A bad call from TypeScript (a missing, mistyped or too short argument): a JS TypeError (entry.h).
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();

// Compute precision of a convolution, a field of each conv entry point's call (the model's precision,
// passed down by TypeScript). Everything but the convolutions is always fp32.
enum Precision { PREC_FP32 = 0, PREC_BF16 = 1 };
// Whether this CPU runs oneDNN's bf16 kernels (AVX512-BF16 or newer).
bool Bf16Supported();

// Activation codes shared with TypeScript (ActCode in src/engine/native.ts).
enum Act { ACT_NONE = 0, ACT_ELU = 1, ACT_RELU = 2, ACT_SIGMOID = 3 };

}  // namespace ns
