// Shared helpers for the addon: argument unpacking with size checks, so a bad call from
// TypeScript becomes a JS exception instead of a segfault.
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

// A Float32Array argument with at least `need` elements (need < 0: any length).
inline float* F32(const Napi::CallbackInfo& info, size_t i, int64_t need, const char* what) {
  if (i >= info.Length() || !info[i].IsTypedArray())
    throw ArgError(std::string(what) + ": expected a Float32Array");
  auto ta = info[i].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_float32_array) throw ArgError(std::string(what) + ": expected a Float32Array");
  auto fa = ta.As<Napi::Float32Array>();
  if (fa.ArrayBuffer().ByteLength() == 0 && need != 0) throw ArgError(std::string(what) + ": buffer was freed");
  if (need >= 0 && static_cast<int64_t>(fa.ElementLength()) < need)
    throw ArgError(std::string(what) + ": buffer has " + std::to_string(fa.ElementLength()) + " floats, needs " +
                   std::to_string(need));
  return fa.Data();
}

// Optional Float32Array (null/undefined -> nullptr).
inline float* F32opt(const Napi::CallbackInfo& info, size_t i, int64_t need, const char* what) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return F32(info, i, need, what);
}

inline int64_t I(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) throw ArgError(std::string(what) + ": expected a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d)))
    throw ArgError(std::string(what) + ": expected a non-negative integer");
  return static_cast<int64_t>(d);
}

inline double D(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) throw ArgError(std::string(what) + ": expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline bool B(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() && info[i].ToBoolean().Value(); }

dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();

// Activation codes shared with TypeScript (src/engine/native.ts).
enum Act { ACT_NONE = 0, ACT_ELU = 1, ACT_RELU = 2, ACT_SIGMOID = 3 };

// Registration hooks, one per source file.
void RegisterMemory(Napi::Env env, Napi::Object exports);
void RegisterConv(Napi::Env env, Napi::Object exports);
void RegisterKernels(Napi::Env env, Napi::Object exports);

// Wraps a throwing implementation so every C++ error surfaces as a JS Error.
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
