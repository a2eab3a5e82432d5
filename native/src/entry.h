// Entry points declared once. Each entry point lists its arguments in one X-macro,
//
//   // fill(y, value, n)
//   #define FILL(X) X(Buf, y) X(F32, value) X(Size, n)
//   NS_ENTRY(fill, Positional, Void, FILL) { Fill(a.y.Need(a.n), a.value, a.n); }
//
// and from that list come its args struct (`fillArgs`: one member per field), the reading of a call's
// arguments into it with their type checks, its registration on the addon's exports, and its row of
// the table the addon exports (nativeTable(): names, fields and kinds). TypeScript compares that table
// field by field with its own declaration (src/engine/native-entries.ts, from which the types of the
// calls are derived) when the addon loads and in test/engine/native-table.test.ts.
//
// Style: Positional entry points take their fields as arguments in list order (the short ones, called
// for every elementwise op); Options entry points take one object whose properties are the fields (the
// long ones), read by name. A record kind (ConvGeom) is a nested object.
//
// The body after NS_ENTRY sees `a` (the args, read) and `env`; it checks each buffer's length against
// the sizes (F32Arg::Need...) before the kernel runs, so a bad call throws a TypeError naming the entry
// point and the field instead of corrupting memory. Every C++ exception becomes a JS exception.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "common.h"

namespace ns {

class Reader;

// A Float32Array field. Its required length is known only once the sizes are read, so the body checks
// it (Need...) rather than the reader.
struct F32Arg {
  float* data = nullptr;
  int64_t length = 0;
  bool present = false;  // false: null passed for an optional buffer
  bool freed = false;    // its ArrayBuffer was detached by free()
  Napi::Float32Array array;
  const char* op = "";  // for errors
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
  // NeedAs, or nullptr when null was passed.
  void* NeedAsIfPresent(bool bf16, int64_t n) const { return present ? NeedAs(bf16, n) : nullptr; }

 private:
  float* Check(int64_t n) const {
    if (freed && n != 0) throw ArgError(Where() + ": buffer was freed");
    if (length < n)
      throw ArgError(Where() + ": buffer has " + std::to_string(length) + " floats, needs " + std::to_string(n));
    return data;
  }
  std::string Where() const { return std::string(op) + ": " + name; }
};

// Reads the fields of one call: its positional arguments in order, or an options object's properties
// by name (a nested record gets a reader of its own whose errors name `outer.field`).
class Reader {
 public:
  Reader(const Napi::CallbackInfo& info, const char* op) : info_(&info), op_(op) {}
  Reader(Napi::Object obj, const char* op, const char* path) : obj_(obj), op_(op), path_(path) {}

  const char* op() const { return op_; }
  bool positional() const { return info_ != nullptr; }

  // The next argument, or the property `name`; undefined where there is none.
  Napi::Value Next(const char* name) {
    if (!info_) return obj_.Get(name);
    const size_t i = i_++;
    return i < info_->Length() ? (*info_)[i] : info_->Env().Undefined();
  }

  // Throws "op: field: what expected" (an options object's missing field says so).
  [[noreturn]] void Fail(const char* name, const Napi::Value& v, const std::string& expected) const {
    if (!info_ && v.IsUndefined()) throw ArgError(Where(name) + ": missing (expected " + expected + ")");
    throw ArgError(Where(name) + ": expected " + expected + ", got " + TypeName(v));
  }

  // Every argument was read: a longer call means the two sides disagree on the signature.
  void End() const {
    if (info_ && info_->Length() > i_)
      throw ArgError(std::string(op_) + ": " + std::to_string(info_->Length()) + " arguments, expected " +
                     std::to_string(i_));
  }

  std::string Where(const char* name) const {
    return std::string(op_) + ": " + (path_ ? std::string(path_) + "." : std::string()) + name;
  }

 private:
  static const char* TypeName(const Napi::Value& v) {
    switch (v.Type()) {
      case napi_undefined: return "undefined";
      case napi_null: return "null";
      case napi_boolean: return "boolean";
      case napi_number: return "number";
      case napi_string: return "string";
      case napi_function: return "function";
      case napi_object: return v.IsTypedArray() ? "another typed array" : v.IsArray() ? "an array" : "an object";
      default: return "another type";
    }
  }

  const Napi::CallbackInfo* info_ = nullptr;
  Napi::Object obj_;
  const char* op_;
  const char* path_ = nullptr;
  size_t i_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Field kinds: Field<K> is how a field of kind K is held (type), read, and named in the table (kKind,
// the same names as src/engine/native-entries.ts). A record is a struct declared with NS_FIELDS and a
// kKind of its own (the primary template below).

struct Buf;     // Float32Array
struct OptBuf;  // Float32Array or null
struct Size;    // non-negative integer (a size or count)
struct Code;    // non-negative integer code (activation, op), held as int
struct F64;     // number
struct F32;     // number, held as float (what the kernel computes with)
struct Flag;    // boolean
struct Prec;    // the convolutions' compute precision, "fp32" or "bf16"

template <class R>
struct Field {
  using type = R;
  static constexpr const char* kKind = R::kKind;
  static constexpr bool kRecord = true;
  static R Read(Reader& r, const char* name) {
    Napi::Value v = r.Next(name);
    if (!v.IsObject() || v.IsArray() || v.IsTypedArray()) r.Fail(name, v, std::string("an object ") + R::kFieldList);
    Reader sub(v.As<Napi::Object>(), r.op(), name);
    R out;
    out.ReadFields(sub);
    out.Check(sub);
    return out;
  }
};

// The readers of the kinds (entry.cc).
F32Arg ReadBuffer(Reader& r, const char* name);
F32Arg ReadOptionalBuffer(Reader& r, const char* name);
int64_t ReadNonNegativeInteger(Reader& r, const char* name);
double ReadNumber(Reader& r, const char* name);
bool ReadFlag(Reader& r, const char* name);
Precision ReadPrecision(Reader& r, const char* name);

#define NS_KIND(K, T, kind, read)                                           \
  template <>                                                               \
  struct Field<K> {                                                         \
    using type = T;                                                         \
    static constexpr const char* kKind = kind;                              \
    static constexpr bool kRecord = false;                                  \
    static T Read(Reader& r, const char* name) { return T(read(r, name)); } \
  };
NS_KIND(Buf, F32Arg, "buf", ReadBuffer)
NS_KIND(OptBuf, F32Arg, "optbuf", ReadOptionalBuffer)
NS_KIND(Size, int64_t, "size", ReadNonNegativeInteger)
NS_KIND(Code, int, "code", ReadNonNegativeInteger)
NS_KIND(F64, double, "f64", ReadNumber)
NS_KIND(F32, float, "f32", ReadNumber)
NS_KIND(Flag, bool, "flag", ReadFlag)
NS_KIND(Prec, Precision, "precision", ReadPrecision)
#undef NS_KIND

template <class K>
using FieldType = typename Field<K>::type;

// The table's rows: fields as [name, kind] pairs, and each record's fields under its kind.
struct TableOut {
  Napi::Env env;
  Napi::Object records;
};

template <class K>
void DescribeField(TableOut& t, Napi::Array fields, const char* name) {
  Napi::Array pair = Napi::Array::New(t.env, 2);
  pair.Set(0u, name);
  pair.Set(1u, Field<K>::kKind);
  fields.Set(fields.Length(), pair);
  if constexpr (Field<K>::kRecord) {
    if (!t.records.Has(K::kKind)) {
      Napi::Array inner = Napi::Array::New(t.env);
      K::DescribeFields(t, inner);
      t.records.Set(K::kKind, inner);
    }
  }
}

// Inside a struct: one member per field, ReadFields (in list order) and DescribeFields; kFieldList
// names the fields for an error about the whole object.
#define NS_FIELD_MEMBER(K, name) ::ns::FieldType<K> name{};
#define NS_FIELD_READ(K, name) name = ::ns::Field<K>::Read(r, #name);
#define NS_FIELD_DESCRIBE(K, name) ::ns::DescribeField<K>(t, fields, #name);
#define NS_FIELD_NAME(K, name) " " #name
#define NS_FIELDS(FIELDS)                                                                               \
  FIELDS(NS_FIELD_MEMBER)                                                                               \
  void ReadFields([[maybe_unused]] ::ns::Reader& r) { FIELDS(NS_FIELD_READ) }                           \
  static void DescribeFields([[maybe_unused]] ::ns::TableOut& t, [[maybe_unused]] Napi::Array fields) { \
    FIELDS(NS_FIELD_DESCRIBE)                                                                           \
  }                                                                                                     \
  static constexpr const char* kFieldList = "{" FIELDS(NS_FIELD_NAME) " }";

// An entry point without arguments.
#define NS_NO_FIELDS(X)

// ---------------------------------------------------------------------------------------------
// What an entry point returns: the body's C++ type and the table's name for it.

#define NS_RETURN(R, T, kind)                  \
  struct R {                                   \
    using type = T;                            \
    static constexpr const char* kKind = kind; \
  };
NS_RETURN(Void, void, "void")
NS_RETURN(Number, double, "number")
NS_RETURN(Boolean, bool, "boolean")
NS_RETURN(String, std::string, "string")
NS_RETURN(NewBuf, Napi::Value, "buf")  // a new buffer (alloc)
NS_RETURN(Table, Napi::Value, "table")  // nativeTable()
#undef NS_RETURN

enum class Style { Positional, Options };

// One registered entry point (the registry is filled by NS_ENTRY's static registrars before the
// addon's Init runs).
struct EntrySpec {
  const char* name;
  Style style;
  const char* returns;
  Napi::Value (*call)(const Napi::CallbackInfo&);
  void (*describe)(TableOut&, Napi::Array);
};
std::vector<EntrySpec>& Registry();
struct Registrar {
  explicit Registrar(const EntrySpec& e) { Registry().push_back(e); }
};

// Reads the call into Args, runs the body, returns its value as JS; any C++ error becomes a JS one.
template <class Args, class Ret, typename Ret::type (*Body)(const Args&, Napi::Env)>
Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    Args a;
    if constexpr (Args::kStyle == Style::Positional) {
      Reader r(info, Args::kName);
      a.ReadFields(r);
      r.End();
    } else {
      if (info.Length() != 1 || !info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray())
        throw ArgError(std::string(Args::kName) + ": expected one options object " + Args::kFieldList);
      Reader r(info[0].As<Napi::Object>(), Args::kName, nullptr);
      a.ReadFields(r);
    }
    if constexpr (std::is_void_v<typename Ret::type>) {
      Body(a, env);
      return env.Undefined();
    } else if constexpr (std::is_same_v<typename Ret::type, Napi::Value>) {
      return Body(a, env);
    } else if constexpr (std::is_same_v<typename Ret::type, std::string>) {
      return Napi::String::New(env, Body(a, env));
    } else if constexpr (std::is_same_v<typename Ret::type, bool>) {
      return Napi::Boolean::New(env, Body(a, env));
    } else {
      return Napi::Number::New(env, Body(a, env));
    }
  } catch (const dnnl::error& e) {
    Napi::Error::New(env, std::string("oneDNN: ") + e.what()).ThrowAsJavaScriptException();
  } catch (const ArgError& e) {
    Napi::TypeError::New(env, std::string("native: ") + e.what()).ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(env, std::string("native: ") + e.what()).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// NS_ENTRY(jsName, Positional|Options, return kind, FIELDS) { body }: declares jsNameArgs, registers
// the entry point as `jsName`, and opens the body (a function of `a` and `env`).
#define NS_ENTRY(js, style, ret, FIELDS)                                                                         \
  struct js##Args {                                                                                              \
    static constexpr const char* kName = #js;                                                                    \
    static constexpr ::ns::Style kStyle = ::ns::Style::style;                                                    \
    NS_FIELDS(FIELDS)                                                                                            \
  };                                                                                                             \
  ::ns::ret::type js##Body(const js##Args& a, Napi::Env env);                                                    \
  const ::ns::Registrar js##Registered({#js, ::ns::Style::style, ::ns::ret::kKind,                               \
                                        &::ns::Call<js##Args, ::ns::ret, js##Body>, &js##Args::DescribeFields}); \
  ::ns::ret::type js##Body([[maybe_unused]] const js##Args& a, [[maybe_unused]] Napi::Env env)

}  // namespace ns
