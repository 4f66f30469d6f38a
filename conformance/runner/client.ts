/**
 * The conformance runner's HTTP client: plain fetch against any deployment's FHIR base URL, with
 * the headers the operator gives (an `Authorization` for a secured deployment). Every request is
 * recorded (method and path with query, never bodies), so that a test can check that the runner
 * uses nothing the CapabilityStatement does not declare.
 */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The body as JSON, when it is JSON. */
  json?: unknown;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as it is (a string) instead of JSON. */
  raw?: string;
  headers?: Record<string, string>;
}

export class FhirClient {
  readonly requests: { method: string; path: string }[] = [];

  constructor(
    readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    this.requests.push({ method, path });
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const response = await fetch(`${this.baseUrl}${path.startsWith('/') || path === '' ? '' : '/'}${path}`, {
      method,
      headers: {
        Accept: 'application/fhir+json',
        'Accept-Language': 'en',
        ...(body !== undefined ? { 'Content-Type': 'application/fhir+json' } : {}),
        ...this.headers,
        ...options.headers,
      },
      body,
    });
    const text = await response.text();
    let json: unknown;
    if (/json/.test(response.headers.get('content-type') ?? '') && !/ndjson/.test(response.headers.get('content-type') ?? '')) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { status: response.status, headers: response.headers, text, json };
  }

  get = (path: string, options?: RequestOptions) => this.request('GET', path, options);
  post = (path: string, body: unknown, options?: RequestOptions) => this.request('POST', path, { ...options, body });
  put = (path: string, body: unknown, options?: RequestOptions) => this.request('PUT', path, { ...options, body });
  delete = (path: string) => this.request('DELETE', path);
}
