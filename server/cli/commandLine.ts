import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O }>>["values"];

/**
 * A command's flags (node:util parseArgs with `options`, no positional arguments; `--help` is added).
 * `--help` prints `usage` and exits 0. Anything wrong — an unknown flag, an argument, what `check`
 * throws for the values — prints one line naming it (parseArgs' first sentence, whose rest is about
 * positionals), then the usage, on stderr, and exits 2 (before, an unknown flag printed parseArgs'
 * stack, or every flag was ignored).
 */
export function parseCommandLine<const O extends Options>(options: O, usage: string, check: (values: Values<O>) => void = () => {}): Values<O> {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: "boolean", default: false } } }) as { values: Record<string, unknown> };
    if (values.help === true) {
      console.log(usage);
      process.exit(0);
    }
    delete values.help;
    check(values as Values<O>);
    return values as Values<O>;
  } catch (error) {
    console.error(`[rerank] ${(error as Error).message.split("\n")[0]!.split(". ")[0]}\n${usage}`);
    process.exit(2);
  }
}
