/**
 * Reason phrases for CoAP response codes, for the status line the client prints ("2.05 Content").
 * RFC 7252 section 12.1.2, plus 2.31 and 4.08 (RFC 7959 section 2.9), 4.09 and 4.22 (RFC 8132
 * section 3) and 4.29 (RFC 8516).
 */
const PHRASES: Record<string, string> = {
  '2.01': 'Created',
  '2.02': 'Deleted',
  '2.03': 'Valid',
  '2.04': 'Changed',
  '2.05': 'Content',
  '2.31': 'Continue',
  '4.00': 'Bad Request',
  '4.01': 'Unauthorized',
  '4.02': 'Bad Option',
  '4.03': 'Forbidden',
  '4.04': 'Not Found',
  '4.05': 'Method Not Allowed',
  '4.06': 'Not Acceptable',
  '4.08': 'Request Entity Incomplete',
  '4.09': 'Conflict',
  '4.12': 'Precondition Failed',
  '4.13': 'Request Entity Too Large',
  '4.15': 'Unsupported Content-Format',
  '4.22': 'Unprocessable Entity',
  '4.29': 'Too Many Requests',
  '5.00': 'Internal Server Error',
  '5.01': 'Not Implemented',
  '5.02': 'Bad Gateway',
  '5.03': 'Service Unavailable',
  '5.04': 'Gateway Timeout',
  '5.05': 'Proxying Not Supported',
};

export function statusLine(code: string): string {
  const phrase = PHRASES[code];
  return phrase ? `${code} ${phrase}` : code;
}

/** The 2.xx class means success (RFC 7252 section 5.9.1); the exit status depends on it. */
export function isSuccess(code: string): boolean {
  return code.startsWith('2.');
}
