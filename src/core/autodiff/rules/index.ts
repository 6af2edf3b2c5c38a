// The rules others may pass as overrides: Guided Backpropagation's and deconvnet's ReLU.
export { deconvRelu, guidedRelu } from './activation';
