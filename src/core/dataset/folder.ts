// A dataset is a folder of images. Labels follow torchvision's ImageFolder convention as far as a
// folder allows: an image's label is the name of the folder that holds it (root/circle/0.png is a
// 'circle'), so a split folder above the class folders (root/test/circle/0.png) works too. Images
// directly in the root have no label. Hidden folders (.data, .convlens-cache, ...) are skipped.
import * as fs from 'fs';
import * as path from 'path';
import { DatasetError } from './errors';

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

export interface DatasetImage {
  /** Absolute path. */
  file: string;
  /** Path relative to the dataset root, with '/' separators: the image's name in results. */
  relPath: string;
  /** Name of the folder holding the image; undefined for images in the root. */
  labelName?: string;
  /** Index of labelName among the model's classes, when it is one of them. */
  label?: number;
}

export interface DatasetListing {
  root: string;
  images: DatasetImage[];
  classNames: string[];
  /** Whether every image has a label that is one of the model's classes. */
  labelled: boolean;
}

/**
 * Lists the images under `folder`, sorted by relative path, with labels matched to `classNames`
 * (the model's classes in logit order).
 */
export function listDataset(folder: string, classNames: readonly string[] = []): DatasetListing {
  const root = path.resolve(folder);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw new DatasetError(`dataset folder not found: ${folder}`);
  }
  if (!stat.isDirectory()) throw new DatasetError(`${folder} is not a folder of images`);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) files.push(full);
    }
  };
  walk(root);
  if (files.length === 0) throw new DatasetError(`no .png or .jpg images in ${folder}`);
  const images = files
    .map((file) => {
      const relPath = path.relative(root, file).split(path.sep).join('/');
      const parent = path.dirname(relPath);
      return { file, relPath, labelName: parent === '.' ? undefined : path.basename(parent) };
    })
    .sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
  return withClassNames({ root, images, classNames: [], labelled: false }, classNames);
}

/** The listing with its labels matched to `classNames`. */
export function withClassNames(listing: DatasetListing, classNames: readonly string[]): DatasetListing {
  const classIndex = new Map(classNames.map((name, i) => [name, i]));
  const images = listing.images.map((im) => ({ ...im, label: im.labelName === undefined ? undefined : classIndex.get(im.labelName) }));
  return { root: listing.root, images, classNames: [...classNames], labelled: images.every((im) => im.label !== undefined) };
}

/**
 * The class names to use for a model with `classCount` outputs: the given ones, else the sorted
 * label folders when there are exactly that many (ImageFolder's class order), else 'class i'.
 */
export function chooseClassNames(listing: DatasetListing, classCount: number, given?: readonly string[]): string[] {
  if (given && given.length > 0) {
    if (given.length !== classCount) {
      throw new DatasetError(`${given.length} class names for a model with ${classCount} outputs`);
    }
    return [...given];
  }
  const folders = [...new Set(listing.images.map((im) => im.labelName).filter((n): n is string => !!n))].sort();
  if (folders.length === classCount) return folders;
  return Array.from({ length: classCount }, (_, i) => `class ${i}`);
}
