// Errors as users read them: one sentence, without onnxruntime's C++ source locations and
// signatures, and with the JavaScript engine's allocation failures said in the user's terms.

/**
 * Anything thrown (onnxruntime sometimes throws strings) as an Error with a readable, non-empty
 * message: onnxruntime's source locations and C++ signatures are dropped, and a failed allocation
 * (a model declaring an enormous shape) says so.
 */
export function toUserError(err: unknown): Error {
  const error = err instanceof Error ? err : new Error(String(err));
  let message = error.message
    .replace(ORT_SOURCE_LOCATION, '')
    .replace(ORT_NODE_SIGNATURE, (_, node, op, domain) => `In node '${node}' (${op}${domain ? ` of domain ${domain}` : ''}): `)
    .trim();
  const allocation = /^(?:Invalid typed array length|Array buffer allocation failed)(?:: (\d+))?/.exec(message);
  if (error instanceof RangeError && allocation) {
    message = `the model declares a tensor too large to allocate${allocation[1] ? ` (${Number(allocation[1]).toExponential(2)} elements)` : ''}`;
  }
  return Object.assign(new Error(message || `${error.name} without a message`), { name: error.name });
}

/** e.g. 'In Node, ("/b/Add", Frob, "", -1) : ("x": tensor(float),) -> ("y": tensor(float),) , Error ' (every input and output's type). */
const ORT_NODE_SIGNATURE = /In Node, \("([^"]*)", ([\w.]+), "([^"]*)", -?\d+\) : \(.*?\) -> \(.*?\) , Error /g;

/** e.g. '/onnxruntime_src/onnxruntime/core/graph/graph.cc:1555 void onnxruntime::Graph::Init() ' or 'tensorprotoutils.cc:434 ValidateX '. */
const ORT_SOURCE_LOCATION = /\S*\.(?:cc|cpp|h):\d+ (?:(?:[\w:~<>&*]+ )?[\w:~<>&*]+\([^)]*\)(?: const)? |\w+ )?/g;
