// The explanation methods the views offer, asked of the compute worker once (the registry lives
// with the compute code, which the extension host does not load).
import type { ComputeClient } from '../compute/client';
import type { MethodView } from '../protocol';

export function methodCatalog(client: ComputeClient): () => Promise<MethodView[]> {
  let methods: Promise<MethodView[]> | undefined;
  return () => {
    if (!methods) {
      const asked = client.call('methods', {});
      methods = asked;
      asked.catch(() => {
        if (methods === asked) methods = undefined; // asked again next time
      });
    }
    return methods;
  };
}
