/** A CLI command: its arguments after the command's name; it throws to fail (cli.ts words the error). */
export type CommandHandler = (argv: string[]) => Promise<void>;
