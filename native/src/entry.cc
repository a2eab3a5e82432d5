// Reading an entry point's fields (entry.h), the registry NS_ENTRY fills, and nativeTable(): every
// entry point with its style, return kind and fields, and every record's fields, as TypeScript
// declares them in src/engine/native-entries.ts (test/engine/native-table.test.ts compares the two).
#include <string_view>

#include "entry.h"

namespace ns {

std::vector<EntrySpec>& Registry() {
  static std::vector<EntrySpec> entries;
  return entries;
}

namespace {

F32Arg ReadBufferOr(Reader& r, const char* name, bool optional) {
  F32Arg a;
  a.op = r.op();
  a.name = name;
  Napi::Value v = r.Next(name);
  // An optional buffer is null when absent (or, positionally, undefined); an options object must
  // still name it, so that a misspelt field is an error rather than a silently skipped gradient.
  if (optional && (v.IsNull() || (r.positional() && v.IsUndefined()))) return a;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    r.Fail(name, v, optional ? "a Float32Array or null" : "a Float32Array");
  a.array = v.As<Napi::Float32Array>();
  a.present = true;
  a.freed = a.array.ArrayBuffer().ByteLength() == 0;
  a.data = a.array.Data();
  a.length = static_cast<int64_t>(a.array.ElementLength());
  return a;
}

// A number, or an error saying what was expected instead.
double NumberOr(Reader& r, const char* name, const char* expected) {
  Napi::Value v = r.Next(name);
  if (!v.IsNumber()) r.Fail(name, v, expected);
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace

F32Arg ReadBuffer(Reader& r, const char* name) { return ReadBufferOr(r, name, false); }
F32Arg ReadOptionalBuffer(Reader& r, const char* name) { return ReadBufferOr(r, name, true); }

double ReadNumber(Reader& r, const char* name) { return NumberOr(r, name, "a number"); }

int64_t ReadNonNegativeInteger(Reader& r, const char* name) {
  const double d = NumberOr(r, name, "a non-negative integer");
  if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d)))
    throw ArgError(r.Where(name) + ": expected a non-negative integer");
  return static_cast<int64_t>(d);
}

bool ReadFlag(Reader& r, const char* name) {
  Napi::Value v = r.Next(name);
  if (!v.IsBoolean()) r.Fail(name, v, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

Precision ReadPrecision(Reader& r, const char* name) {
  Napi::Value v = r.Next(name);
  if (v.IsString()) {
    char buf[8];  // no allocation: longer strings are cut and match neither name
    size_t len = 0;
    napi_get_value_string_utf8(v.Env(), v, buf, sizeof buf, &len);
    const std::string_view s(buf, len);
    if (s == "fp32") return PREC_FP32;
    if (s == "bf16") {
      if (!Bf16Supported()) throw ArgError(r.Where(name) + ": bf16 is not supported on this CPU (needs AVX512-BF16)");
      return PREC_BF16;
    }
  }
  r.Fail(name, v, "\"fp32\" or \"bf16\"");
}

namespace {

// nativeTable() -> { entries: { name: { style, returns, fields: [[field, kind], ...] } },
//                    records: { kind: [[field, kind], ...] } }
NS_ENTRY(nativeTable, Positional, Table, NS_NO_FIELDS) {
  TableOut t{env, Napi::Object::New(env)};
  Napi::Object entries = Napi::Object::New(env);
  for (const EntrySpec& e : Registry()) {
    Napi::Object row = Napi::Object::New(env);
    row.Set("style", e.style == Style::Positional ? "positional" : "options");
    row.Set("returns", e.returns);
    Napi::Array fields = Napi::Array::New(env);
    e.describe(t, fields);
    row.Set("fields", fields);
    entries.Set(e.name, row);
  }
  Napi::Object table = Napi::Object::New(env);
  table.Set("entries", entries);
  table.Set("records", t.records);
  return table;
}

}  // namespace
}  // namespace ns
