// Turning an image (or a .npy or WAV tensor) into the model's input tensor, and deciding how:
// the spec and its types (spec.ts), the image pipeline (image.ts), loading an input file
// (input.ts) and resolving the spec from settings, sidecar, metadata and defaults (resolve.ts).
export * from './spec';
export * from './image';
export * from './input';
export * from './resolve';
