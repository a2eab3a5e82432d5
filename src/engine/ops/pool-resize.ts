// 2x2 max-pool and the decoder's upsample + skip concatenation (native/src/pool_resize.cc), on fp32
// or packed bf16 activations (the output has the input's dtype; gradients are fp32).
import { native } from "../native.js";
import { Tensor, record } from "../tensor.js";
import { check, fmt, rank } from "./check.js";

/** 2x2 max-pool, stride 2 (odd trailing rows/columns are dropped, like PyTorch). */
export function maxPool2x2(x: Tensor): Tensor {
  rank(x, 4, "maxPool2x2", "input (NHWC)");
  const [n, h, w, c] = x.shape;
  check(h >= 2 && w >= 2, "maxPool2x2", `input ${fmt(x.shape)} is smaller than 2x2`);
  const bf16 = x.dtype === "bf16";
  const y = new Tensor([n, Math.floor(h / 2), Math.floor(w / 2), c], { dtype: x.dtype });
  native.maxPoolForward({ x: x.raw, y: y.raw, n, h, w, c, bf16 });
  return record([x], y, (dy) => {
    const dx = new Tensor(x.shape);
    native.maxPoolBackward({ x: x.raw, y: y.raw, dy: dy.data, dx: dx.data, n, h, w, c, bf16 });
    return [dx];
  });
}

/**
 * Nearest-neighbour 2x upsampling of x concatenated on channels with skip, in one pass (the U-Net
 * decoder's input): x [N,H,W,Cx], skip [N,2H,2W,Cs] -> [N,2H,2W,Cx+Cs].
 */
export function upsampleConcat(x: Tensor, skip: Tensor): Tensor {
  rank(x, 4, "upsampleConcat", "x (NHWC)");
  rank(skip, 4, "upsampleConcat", "skip (NHWC)");
  const [n, h, w, cx] = x.shape;
  const cs = skip.shape[3];
  check(
    skip.shape[0] === n && skip.shape[1] === 2 * h && skip.shape[2] === 2 * w,
    "upsampleConcat",
    `skip ${fmt(skip.shape)} must be [${n}, ${2 * h}, ${2 * w}, C] for x ${fmt(x.shape)}`,
  );
  check(
    x.dtype === skip.dtype,
    "upsampleConcat",
    `x is ${x.dtype} but skip is ${skip.dtype}: both fp32 or both bf16 activations`,
  );
  const y = new Tensor([n, 2 * h, 2 * w, cx + cs], { dtype: x.dtype });
  native.upsampleConcatForward({
    x: x.raw,
    skip: skip.raw,
    y: y.raw,
    n,
    h,
    w,
    cx,
    cs,
    bf16: x.dtype === "bf16",
  });
  return record([x, skip], y, (dy, needs) => {
    const dx = needs[0] ? new Tensor(x.shape) : null;
    const ds = needs[1] ? new Tensor(skip.shape) : null;
    native.upsampleConcatBackward({
      dy: dy.data,
      dx: dx ? dx.data : null,
      dskip: ds ? ds.data : null,
      n,
      h,
      w,
      cx,
      cs,
    });
    return [dx, ds];
  });
}
