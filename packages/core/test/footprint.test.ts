import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileMapping, WeightkitError, fileFootprint, parseSmaps, readFootprint, readFootprintAsync } from '@weightkit/core';
import { tempDir } from './helpers.js';

const dir = tempDir();

describe('memory footprint', () => {
  it('sees the Rss and clean bytes of a mapped file grow as its pages are touched', () => {
    const path = join(dir, 'touch.bin');
    const size = 8 << 20;
    // Written and synced, so its page-cache pages are clean (freshly written
    // pages count as dirty until write-back).
    const fd = openSync(path, 'w');
    writeSync(fd, Buffer.alloc(size, 1));
    fsyncSync(fd);
    closeSync(fd);
    const m = FileMapping.openSync(path);
    const before = fileFootprint(readFootprint()!, path);
    expect(before.size).toBeGreaterThanOrEqual(size);
    const bytes = m.bytes();
    let sum = 0;
    for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i]!;
    expect(sum).toBe(size / 4096);
    const after = fileFootprint(readFootprint()!, path);
    expect(after.rss - before.rss).toBeGreaterThanOrEqual(size / 2);
    expect(after.sharedClean + after.privateClean).toBeGreaterThanOrEqual(size / 2);
    expect(after.privateDirty + after.sharedDirty).toBe(0);
    expect(after.anonymous).toBe(0);
    m.close();
  });

  it('reads another process and totals its mappings', async () => {
    const fp = await readFootprintAsync(process.pid);
    expect(fp).not.toBeNull();
    expect(fp!.totals.rss).toBeGreaterThan(0);
    expect(fp!.totals.rss).toBe(fp!.mappings.reduce((a, m) => a + m.rss, 0));
    expect(fp!.mappings.some((m) => m.path === '[heap]' || m.path === null)).toBe(true);
  });

  it('refuses a process that does not exist, or a bad pid', async () => {
    await expect(readFootprintAsync(2 ** 30)).rejects.toMatchObject({ code: 'WK_NOT_FOUND' });
    expect(() => readFootprint(-3)).toThrow(WeightkitError);
  });

  it('parses smaps text', () => {
    const fp = parseSmaps(
      '7f00-7f10 r--s 00000000 08:01 42   /data/w.bin\nSize: 64 kB\nRss: 8 kB\nPss: 4 kB\nShared_Clean: 8 kB\nPrivate_Dirty: 0 kB\nAnonymous: 0 kB\n' +
        '7f20-7f30 rw-p 00000000 00:00 0 \nRss: 12 kB\nPrivate_Dirty: 12 kB\nAnonymous: 12 kB\n',
    );
    expect(fp.mappings).toHaveLength(2);
    expect(fp.mappings[0]).toMatchObject({ path: '/data/w.bin', rss: 8192, pss: 4096, sharedClean: 8192, perms: 'r--s' });
    expect(fp.mappings[1]).toMatchObject({ path: null, privateDirty: 12288, anonymous: 12288 });
    expect(fp.totals.rss).toBe(20480);
  });
});
