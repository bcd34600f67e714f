import { Command } from 'commander';
import type { CommandContext } from './context.js';

export function schemaCommand(context: () => Promise<CommandContext>): Command {
  return new Command('schema')
    .description('print the JSON Schema of pipeline config files (etl run --config), for editors to complete and check them')
    .addHelpText('after', `
Examples:
  $ etl schema > etl.config.schema.json
  # then, first line of etl.config.yaml (VS Code YAML extension and other editors):
  # yaml-language-server: $schema=./etl.config.schema.json`)
    .action(async () => {
      const ctx = await context();
      const { configJsonSchema } = await import('../run/config-schema.js');
      const schema = configJsonSchema();
      ctx.printResult(JSON.stringify(schema, null, 2), schema);
    });
}
