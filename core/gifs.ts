import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ChatError } from './errors.ts';
import { GIF_NAME_PATTERN, LIMITS } from './model.ts';

const GIF_SIGNATURES = ['GIF87a', 'GIF89a'];

/** Whether these first bytes are a GIF's: `GIF87a` or `GIF89a`, whatever the name or type says. */
export function isGifHeader(head: Uint8Array): boolean {
  const text = Buffer.from(head.subarray(0, 6)).toString('latin1');
  return GIF_SIGNATURES.includes(text);
}

/**
 * The uploaded GIFs, as files in one folder under fresh random names. The client's file name is
 * never used as a path: a stored name always matches GIF_NAME_PATTERN.
 */
export class GifFiles {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(dir: string): Promise<GifFiles> {
    await mkdir(dir, { recursive: true });
    return new GifFiles(dir);
  }

  /**
   * Checks an uploaded file by its bytes and size and moves it in under a fresh name.
   * Throws 413 past 5 MiB and 415 when it is not a GIF; the upload is removed either way.
   */
  async adopt(uploadPath: string): Promise<string> {
    try {
      const { size } = await stat(uploadPath);
      if (size > LIMITS.gifBytes)
        throw new ChatError(413, 'The GIF is larger than 5 MiB.', { code: 'gifTooLarge' });
      const head = Buffer.alloc(6);
      const file = await open(uploadPath, 'r');
      try {
        await file.read(head, 0, 6, 0);
      } finally {
        await file.close();
      }
      if (!isGifHeader(head)) {
        throw new ChatError(415, 'Only GIF images can be uploaded (the file is not a GIF).', {
          code: 'notAGif',
        });
      }
      const name = `${randomBytes(12).toString('base64url')}.gif`;
      // A copy, not a rename: the upload folder may sit on another file system.
      await copyFile(uploadPath, join(this.dir, name));
      return name;
    } finally {
      await rm(uploadPath, { force: true });
    }
  }

  /** Drops an upload that will not be adopted. */
  async discard(uploadPath: string): Promise<void> {
    await rm(uploadPath, { force: true });
  }

  /** The path of a stored GIF, or null when `name` is not one of ours. */
  pathOf(name: string): string | null {
    return GIF_NAME_PATTERN.test(name) ? join(this.dir, name) : null;
  }

  async remove(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map(async (name) => {
        const path = this.pathOf(name);
        if (path) await unlink(path).catch(() => undefined);
      }),
    );
  }
}
