{
  "targets": [
    {
      "target_name": "nerveseg_native",
      "sources": [
        "src/addon.cc",
        "src/entry.cc",
        "src/memory.cc",
        "src/conv.cc",
        "src/conv_primitives.cc",
        "src/conv_bwdw_split.cc",
        "src/dense.cc",
        "src/batchnorm.cc",
        "src/pool_resize.cc",
        "src/elementwise.cc",
        "src/optim.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fexceptions", "-fno-math-errno", "-fno-trapping-math"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
