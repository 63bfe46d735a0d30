import { defineSearchAttributeKey } from '@temporalio/common';

/** The custom search attributes of DESIGN.md section 3 (registered by the stack and by tests). */
export const PipelineId = defineSearchAttributeKey('PipelineId', 'KEYWORD');
export const PipelineTable = defineSearchAttributeKey('PipelineTable', 'KEYWORD');
export const PipelineStep = defineSearchAttributeKey('PipelineStep', 'KEYWORD');
export const PipelineStatus = defineSearchAttributeKey('PipelineStatus', 'KEYWORD');
export const IngestLag = defineSearchAttributeKey('IngestLag', 'INT');
export const DataDate = defineSearchAttributeKey('DataDate', 'KEYWORD');
