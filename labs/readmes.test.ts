/**
 * Every lab README has a Korean twin beside it (issue 16): `README.md` (English) and
 * `README.ko.md` (Korean), linked to each other, with the same headings at the same levels in the
 * same order, Korean prose in every section, and every code block of the English file unchanged.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LABS = fileURLToPath(new URL('./', import.meta.url));
const FOLDERS = [
  '.',
  ...readdirSync(LABS)
    .filter((name) => /^\d\d-/.test(name))
    .sort(),
];
const HANGUL = /[\uac00-\ud7a3]/;

interface Section {
  level: number;
  heading: string;
  /** The section's own text (up to the next heading of any level), without its code blocks. */
  prose: string;
}

interface Parsed {
  sections: Section[];
  codeBlocks: string[];
}

/** Headings and fenced code blocks of a Markdown file; a `#` inside a code block is no heading. */
function parse(markdown: string): Parsed {
  const sections: Section[] = [];
  const codeBlocks: string[] = [];
  let fence: string[] | undefined;
  let current: Section | undefined;
  for (const line of markdown.split('\n')) {
    if (fence) {
      if (/^```\s*$/.test(line)) {
        codeBlocks.push([...fence, line].join('\n'));
        fence = undefined;
      } else fence.push(line);
      continue;
    }
    if (/^```/.test(line)) {
      fence = [line];
      continue;
    }
    const heading = /^(#{1,6}) (.+)$/.exec(line);
    if (heading) {
      current = { level: heading[1]!.length, heading: heading[2]!, prose: '' };
      sections.push(current);
    } else if (current) current.prose += `${line}\n`;
  }
  if (fence) throw new Error(`an unclosed code block: ${fence[0]}`);
  return { sections, codeBlocks };
}

describe.each(FOLDERS)('the READMEs of labs/%s', (folder) => {
  const englishPath = join(LABS, folder, 'README.md');
  const koreanPath = join(LABS, folder, 'README.ko.md');
  const english = readFileSync(englishPath, 'utf8');
  const korean = existsSync(koreanPath) ? readFileSync(koreanPath, 'utf8') : '';
  const en = parse(english);
  const ko = parse(korean);

  it('has a README.ko.md beside README.md', () => {
    expect(existsSync(koreanPath), `${koreanPath} is missing`).toBe(true);
  });

  it('has the same headings at the same levels in the same order', () => {
    expect(ko.sections.map((section) => section.level)).toEqual(
      en.sections.map((section) => section.level),
    );
    expect(en.sections[0]?.level).toBe(1);
  });

  it('links each file to the other, right under the first heading', () => {
    /** The first non-blank line under the `# ` heading. */
    const firstLine = (markdown: string) =>
      markdown
        .split('\n')
        .slice(markdown.split('\n').findIndex((line) => /^# /.test(line)) + 1)
        .find((line) => line.trim() !== '') ?? '';
    expect(firstLine(english)).toContain('](README.ko.md)');
    expect(firstLine(korean)).toContain('](README.md)');
  });

  it('has Korean in every section, heading and text', () => {
    ko.sections.forEach((section, index) => {
      expect(section.heading, `heading ${index + 1}`).toMatch(HANGUL);
      const english = en.sections[index];
      if (english && english.prose.trim() !== '') {
        expect(section.prose, `the text under "${section.heading}"`).toMatch(HANGUL);
      }
    });
  });

  it('keeps every code block of the English file verbatim', () => {
    for (const block of en.codeBlocks) expect(korean).toContain(block);
  });

  if (folder === '.') {
    it("points the Korean table's links to each lab's README.ko.md", () => {
      for (const lab of FOLDERS.slice(1)) {
        expect(english).toContain(`](${lab}/)`);
        expect(korean).toContain(`](${lab}/README.ko.md)`);
      }
    });
  }
});
