/**
 * The API Gateway (REST, v1) calls of the aws target: one REST API per pipeline whose resource
 * `{proxy+}` passes ANY request through (HTTP_PROXY) to the client host's ingest API, deployed to
 * a stage. The activity decides what to change; this port only reads and writes.
 */

import type { Tags } from './network';

export interface RestApiInfo {
  id: string;
  name: string;
  tags: Tags;
  /** ISO time; orders duplicates so the oldest is kept. */
  createdDate?: string;
}

/** What the API's proxy wiring looks like now. */
export interface ProxyWiring {
  rootResourceId: string;
  /** The `{proxy+}` resource under the root, when present. */
  proxyResourceId?: string;
  /** Whether method ANY exists on `{proxy+}`. */
  anyMethod: boolean;
  /** The ANY method's integration, when present. */
  integration?: { type: string; uri: string };
  /** Whether the root resource (`/`) also has ANY with an HTTP_PROXY integration. */
  rootIntegration?: { type: string; uri: string };
}

export interface ApiGatewayPort {
  /** REST APIs whose name is exactly `name`. */
  findRestApisByName(name: string): Promise<RestApiInfo[]>;
  getRestApi(apiId: string): Promise<RestApiInfo | undefined>;
  createRestApi(input: { name: string; description: string; tags: Tags }): Promise<RestApiInfo>;
  proxyWiring(apiId: string): Promise<ProxyWiring>;
  /**
   * Creates what is missing and replaces what differs: resource `{proxy+}`, method ANY
   * (no authorization: the API checks its own token) with request parameter `method.request.path.proxy`,
   * and an HTTP_PROXY integration to `<baseUrl>/{proxy}`; and ANY on `/` to `<baseUrl>/`.
   */
  putProxy(apiId: string, baseUrl: string): Promise<void>;
  /** The stage's deployment id, or undefined when the stage does not exist. */
  stageDeployment(apiId: string, stageName: string): Promise<string | undefined>;
  /** Creates a deployment of the API's current state to the stage (creating the stage). */
  deploy(apiId: string, stageName: string, description: string): Promise<string>;
  /** An absent API is not an error. */
  deleteRestApi(apiId: string): Promise<void>;
}
