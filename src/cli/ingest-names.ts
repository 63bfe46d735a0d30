import { Option } from 'commander';
import { TABLES, type Table } from '../domain/tables';

/** `--table`, checked by commander: a typo exits 2 naming the flag and the choices. */
export function tableOption(): Option {
  return new Option('--table <table>', 'one table; default all three').choices(TABLES);
}

export function tablesOf(option: Table | undefined): Table[] {
  return option === undefined ? [...TABLES] : [option];
}
