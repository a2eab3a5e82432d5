// The viewer on a real data set as it lies (../shared/data/ddti-thyroid: cropped/*.png with mask/*.gif,
// the folders layout), through the server API: every frame listed with its truth, one frame served at its
// own size. Skips with a message where the data set is absent.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { PNG } from "pngjs";
import { maskFromDecoded, readImageFile } from "../../src/io/image-read.js";
import { startViewer, type ImageEntry } from "../../src/web/server.js";
import { DDTI_DIR, needsData } from "../helpers/sample.js";

test("view --data ddti-thyroid lists its 655 images with truth", { skip: needsData(DDTI_DIR) }, async (t) => {
  const t0 = performance.now();
  const v = await startViewer({ data: DDTI_DIR, port: 0 });
  try {
    const started = performance.now() - t0;
    // The listing is sorted anew for every request: time a second one, past the first request's set-up.
    await fetch(`${v.url}api/images?sort=id&limit=24`);
    const t1 = performance.now();
    const r = await fetch(`${v.url}api/images?sort=truthArea&order=desc&limit=1000`);
    const listed = performance.now() - t1;
    assert.equal(r.status, 200);
    const data = (await r.json()) as { total: number; hasTruth: boolean; items: ImageEntry[] };
    t.diagnostic(
      `start-up (listing, reading 655 GIF masks) ${started.toFixed(0)} ms; a sorted listing ${listed.toFixed(0)} ms`,
    );
    assert.equal(data.total, 655);
    assert.equal(data.hasTruth, true);
    assert.ok(data.items.every((it) => it.truthArea !== null && it.dice === null));
    assert.equal(data.items.filter((it) => it.truthArea! > 0).length, 648); // README: 648 with a target
    // One frame's numbers against its own files.
    const id = "1_1";
    const mask = await readImageFile(path.join(DDTI_DIR, "mask", `${id}.gif`));
    const area = maskFromDecoded(mask, mask.frames[0]).reduce((a, b) => a + b, 0);
    assert.equal(data.items.find((it) => it.id === id)!.truthArea, area);
    const png = await fetch(`${v.url}img/${id}.png?layer=overlay`);
    assert.equal(png.status, 200);
    const pic = PNG.sync.read(Buffer.from(await png.arrayBuffer()));
    const image = (await readImageFile(path.join(DDTI_DIR, "cropped", `${id}.png`))).frames[0].image;
    assert.deepEqual([pic.width, pic.height], [image.width, image.height]);
  } finally {
    await v.close();
  }
});
