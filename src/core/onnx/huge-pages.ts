// Transparent huge pages for the processes that run onnxruntime. Making a session copies the
// model's weights into fresh memory, and the kernel maps fresh memory one 4 KiB page at a time as
// it is first touched; on a virtual machine each such page fault is costly (this project's 2-core
// machine filled 531 MB of fresh memory in 1.4 s, and in 0.27 s with 2 MiB pages; vgg11's first
// Grad-CAM took 3.8-4.3 s, and 0.36-1.8 s with them). glibc (2.35 and later) asks the kernel for huge pages for
// the memory malloc maps when its tunable glibc.malloc.hugetlb is 1, wherever the kernel's
// transparent huge pages are in 'madvise' mode (the usual default) or 'always'. glibc reads its
// tunables only when a process starts, so the compute worker is started with it and the CLI starts
// itself again with it. A GLIBC_TUNABLES of the user's that names glibc.malloc.hugetlb (=0 to turn
// this off) is left as it is; elsewhere than Linux nothing changes.
import { spawn } from 'child_process';

const HUGE_PAGES_NAME = 'glibc.malloc.hugetlb';
export const HUGE_PAGES_TUNABLE = `${HUGE_PAGES_NAME}=1`;

/** The entries of `env`'s GLIBC_TUNABLES (name=value, colon-separated). */
function tunablesOf(env: NodeJS.ProcessEnv): string[] {
  return (env.GLIBC_TUNABLES ?? '').split(':').filter(Boolean);
}

/** The value `env`'s GLIBC_TUNABLES gives glibc.malloc.hugetlb ('1': huge pages), or undefined where it names none. */
export function hugePagesValue(env: NodeJS.ProcessEnv): string | undefined {
  return tunablesOf(env)
    .find((t) => t.startsWith(`${HUGE_PAGES_NAME}=`))
    ?.slice(HUGE_PAGES_NAME.length + 1);
}

/** `env` with HUGE_PAGES_TUNABLE added to its GLIBC_TUNABLES (any others kept); `env` itself where it names glibc.malloc.hugetlb already, or off Linux. */
export function withHugePages(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  if (platform !== 'linux' || hugePagesValue(env) !== undefined) return env;
  return { ...env, GLIBC_TUNABLES: [...tunablesOf(env), HUGE_PAGES_TUNABLE].join(':') };
}

/** `env` without glibc.malloc.hugetlb in its GLIBC_TUNABLES (the others kept; none left: no GLIBC_TUNABLES). */
export function withoutHugePages(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept = tunablesOf(env).filter((t) => !t.startsWith(`${HUGE_PAGES_NAME}=`));
  const { GLIBC_TUNABLES: _dropped, ...rest } = env;
  return kept.length > 0 ? { ...rest, GLIBC_TUNABLES: kept.join(':') } : rest;
}

const PASSED_ON: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Where this process started without huge pages (withHugePages would change its environment):
 * runs this script again, with the same arguments and standard streams, in a child process that has
 * them, and resolves to the child's exit code, for the caller to exit with (a child killed by a
 * signal kills this process with it). Undefined where nothing needs relaunching, or the child could
 * not start: the caller then runs here, as it would have. The signals that end a command line tool
 * are passed on to the child (a terminal's Ctrl-C reaches both).
 */
export function relaunchWithHugePages(): Promise<number | undefined> {
  const env = withHugePages(process.env);
  if (env === process.env) return Promise.resolve(undefined);
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  const passOn = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of PASSED_ON) process.on(signal, passOn);
  const stopPassing = () => PASSED_ON.forEach((signal) => process.off(signal, passOn));
  return new Promise((resolve) => {
    child.on('error', () => {
      stopPassing();
      resolve(undefined);
    });
    child.on('exit', (code, signal) => {
      stopPassing();
      if (signal) process.kill(process.pid, signal);
      resolve(code ?? 1);
    });
  });
}
