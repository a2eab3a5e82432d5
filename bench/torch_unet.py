"""The bench's optional PyTorch baseline (bench/pytorch.ts runs it where Debian's python3-torch is
installed; nerveseg itself never needs Python). The same two-head U-Net as nerveseg's fast preset at
64x80 (filters 32..512, 3x3 conv -> BN -> ELU twice per level, 2x2 max-pool, nearest 2x upsample +
concat, 1x1 conv + sigmoid mask head, presence head 1x1 conv + sigmoid -> flatten -> dense -> sigmoid),
channels_last, Adam, soft Dice + 0.5 BCE; prints ms/img for a training step at batch 32 and inference at
batch 1 and 32 (best of the repeats) as JSON."""
import json
import sys
import time

import torch
import torch.nn as nn

H, W, FILTERS = 64, 80, [32, 64, 128, 256, 512]


def block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ELU(),
        nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ELU())


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.ModuleList()
        cin = 1
        for f in FILTERS:
            self.down.append(block(cin, f))
            cin = f
        self.up = nn.ModuleList(block(FILTERS[i + 1] + FILTERS[i], FILTERS[i]) for i in reversed(range(len(FILTERS) - 1)))
        self.seg = nn.Conv2d(FILTERS[0], 1, 1)
        self.pres_conv = nn.Conv2d(FILTERS[-1], 1, 1)
        bh, bw = H >> (len(FILTERS) - 1), W >> (len(FILTERS) - 1)
        self.pres_dense = nn.Linear(bh * bw, 1)

    def forward(self, x):
        skips = []
        for i, d in enumerate(self.down):
            x = d(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        presence = torch.sigmoid(self.pres_dense(torch.sigmoid(self.pres_conv(x)).flatten(1)))
        for u in self.up:
            x = u(torch.cat([nn.functional.interpolate(x, scale_factor=2, mode="nearest"), skips.pop()], 1))
        return torch.sigmoid(self.seg(x)), presence


def best(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = UNet().to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    out = {"torch": torch.__version__, "threads": threads}
    x = torch.rand(32, 1, H, W).to(memory_format=torch.channels_last)
    y = (torch.rand(32, 1, H, W) > 0.8).float()
    has = torch.ones(32, 1)

    def step():
        opt.zero_grad()
        mask, pres = net(x)
        inter = (mask * y).sum()
        dice = 1 - (2 * inter + 1) / (mask.sum() + y.sum() + 1)
        loss = dice + 0.5 * nn.functional.binary_cross_entropy(pres, has)
        loss.backward()
        opt.step()

    net.train()
    out["train32"] = best(step, repeats) * 1000 / 32
    net.eval()
    with torch.no_grad():
        for b in (1, 32):
            xb = x[:b].contiguous(memory_format=torch.channels_last)
            out[f"infer{b}"] = best(lambda: net(xb), repeats) * 1000 / b
    print(json.dumps(out))


main()
