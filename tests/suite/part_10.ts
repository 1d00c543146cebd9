// Part 10 of the test files `deno task test` runs (tests/suite/parts.ts says which and why).
import { importPart } from "./parts.ts";

await importPart(10);
