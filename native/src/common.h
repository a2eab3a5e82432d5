// What every op family shares: reading an entry point's arguments (once, into that entry point's
// named struct, with size checks so a bad call from TypeScript becomes a JS exception instead of a
// segfault), turning C++ errors into JS errors, and the oneDNN engine.
//
// Calling convention: TypeScript passes positional arguments, in the order of the fields of the
// entry point's `...Args` struct (and of its signature in src/engine/native.ts). Each struct's
// `From(info)` is the only code that reads them; the kernels take plain pointers and sizes.
#pragma once
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

namespace ns {

struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A Float32Array argument whose required length is known only once the sizes after it are read.
struct F32Arg {
  float* data = nullptr;
  int64_t length = 0;
  bool present = false;  // false: null/undefined passed for an optional buffer
  bool freed = false;    // its ArrayBuffer was detached by free()
  const char* op = "";   // for errors
  const char* name = "";

  // The buffer, which must exist and hold at least n floats.
  float* Need(int64_t n) const {
    if (!present) throw ArgError(Where() + ": expected a Float32Array");
    return Check(n);
  }
  // The buffer (at least n floats), or nullptr when null was passed.
  float* NeedIfPresent(int64_t n) const { return present ? Check(n) : nullptr; }
  // The buffer as n packed bf16 values (two per float: TypeScript keeps bf16 storage in a
  // Float32Array of ceil(n / 2) elements, so it shares the engine's one buffer pool).
  uint16_t* NeedBf16(int64_t n) const { return reinterpret_cast<uint16_t*>(Need((n + 1) / 2)); }
  // NeedBf16 when packed, else Need: a buffer whose format a flag of the call chooses.
  void* NeedAs(bool bf16, int64_t n) const {
    return bf16 ? static_cast<void*>(NeedBf16(n)) : static_cast<void*>(Need(n));
  }

 private:
  float* Check(int64_t n) const {
    if (freed && n != 0) throw ArgError(Where() + ": buffer was freed");
    if (length < n)
      throw ArgError(Where() + ": buffer has " + std::to_string(length) + " floats, needs " + std::to_string(n));
    return data;
  }
  std::string Where() const { return std::string(op) + ": " + name; }
};

// Reads an entry point's arguments front to back. Used only inside the `From` of an Args struct.
class ArgReader {
 public:
  ArgReader(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}

  F32Arg F32(const char* name) { return Buffer(name, false); }
  F32Arg F32Opt(const char* name) { return Buffer(name, true); }

  // A non-negative integer (a size, count or code).
  int64_t Int(const char* name) {
    double d = Number(name);
    if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d)))
      throw ArgError(Where(name) + ": expected a non-negative integer");
    return static_cast<int64_t>(d);
  }

  double Number(const char* name) {
    const Napi::Value& v = Next();
    if (!v.IsNumber()) throw ArgError(Where(name) + ": expected a number");
    return v.As<Napi::Number>().DoubleValue();
  }

  bool Flag(const char*) { return Next().ToBoolean().Value(); }

  // Every argument was read: a longer call means TypeScript and C++ disagree on the signature.
  void End() const {
    if (info_.Length() > i_)
      throw ArgError(std::string(op_) + ": " + std::to_string(info_.Length()) + " arguments, expected " +
                     std::to_string(i_));
  }

  std::string Where(const char* name) const { return std::string(op_) + ": " + name; }

 private:
  Napi::Value Next() {
    size_t i = i_++;
    return i < info_.Length() ? info_[i] : info_.Env().Undefined();
  }

  F32Arg Buffer(const char* name, bool optional) {
    F32Arg a;
    a.op = op_;
    a.name = name;
    Napi::Value v = Next();
    if (optional && (v.IsNull() || v.IsUndefined())) return a;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw ArgError(Where(name) + ": expected a Float32Array");
    auto fa = v.As<Napi::Float32Array>();
    a.present = true;
    a.freed = fa.ArrayBuffer().ByteLength() == 0;
    a.data = fa.Data();
    a.length = static_cast<int64_t>(fa.ElementLength());
    return a;
  }

  const Napi::CallbackInfo& info_;
  const char* op_;
  size_t i_ = 0;
};

dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();

// Compute precision of the convolutions, process-wide (setPrecision in addon.cc; PrecisionCode in
// src/engine/native.ts). Everything but the convolutions is always fp32.
enum Precision { PREC_FP32 = 0, PREC_BF16 = 1 };
int ComputePrecision();
// Whether this CPU runs oneDNN's bf16 kernels (AVX512-BF16 or newer).
bool Bf16Supported();

// Activation codes shared with TypeScript (ActCode in src/engine/native.ts).
enum Act { ACT_NONE = 0, ACT_ELU = 1, ACT_RELU = 2, ACT_SIGMOID = 3 };

// Registration hooks, one per op family (one source file each).
void RegisterMemory(Napi::Env env, Napi::Object exports);
void RegisterConv(Napi::Env env, Napi::Object exports);
void RegisterDense(Napi::Env env, Napi::Object exports);
void RegisterBatchNorm(Napi::Env env, Napi::Object exports);
void RegisterPoolResize(Napi::Env env, Napi::Object exports);
void RegisterElementwise(Napi::Env env, Napi::Object exports);
void RegisterOptim(Napi::Env env, Napi::Object exports);

// Wraps a throwing entry point so every C++ error surfaces as a JS Error.
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value Guard(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const dnnl::error& e) {
    Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what()).ThrowAsJavaScriptException();
  } catch (const ArgError& e) {
    Napi::TypeError::New(info.Env(), std::string("native: ") + e.what()).ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(info.Env(), std::string("native: ") + e.what()).ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

#define NS_EXPORT(name, fn) exports.Set(name, Napi::Function::New(env, ns::Guard<fn>, name))

}  // namespace ns
