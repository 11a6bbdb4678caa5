import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/** The Jupyter messaging protocol version this client speaks. */
export const PROTOCOL_VERSION = '5.3';
const DELIMITER = '<IDS|MSG>';

/** A message header (Jupyter messaging protocol, "General message format"). */
export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

/** A decoded Jupyter message. */
export interface JupyterMessage {
  identities: Buffer[];
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
  buffers: Buffer[];
}

/** Why a frame list was not accepted as a message. */
export class WireError extends Error {
  override name = 'WireError';
}

const ALGORITHMS: Record<string, string> = { 'hmac-sha256': 'sha256', 'hmac-sha512': 'sha512', 'hmac-sha1': 'sha1' };

/** Serialises and signs messages for one session, and checks the signatures of incoming ones. */
export class MessageCodec {
  readonly session = randomUUID();
  private readonly algorithm: string | null;

  /** @throws WireError when the signature scheme is not supported. */
  constructor(
    private readonly key: string,
    signatureScheme = 'hmac-sha256',
  ) {
    const algorithm = ALGORITHMS[signatureScheme];
    if (key && !algorithm) throw new WireError(`unsupported signature_scheme ${JSON.stringify(signatureScheme)}`);
    this.algorithm = key ? algorithm : null;
  }

  /** A new message of this session, answering nothing. */
  message(msgType: string, content: Record<string, unknown>): JupyterMessage {
    return {
      identities: [],
      header: { msg_id: randomUUID(), msg_type: msgType, session: this.session, username: 'opsbook', date: new Date().toISOString(), version: PROTOCOL_VERSION },
      parent_header: {},
      metadata: {},
      content,
      buffers: [],
    };
  }

  /** The frames of a message, signed. */
  encode(message: JupyterMessage): Buffer[] {
    const parts = [message.header, message.parent_header, message.metadata, message.content].map((part) => Buffer.from(JSON.stringify(part), 'utf8'));
    return [...message.identities, Buffer.from(DELIMITER), Buffer.from(this.sign(parts)), ...parts, ...message.buffers];
  }

  /** @throws WireError when the frames lack the delimiter, the signature is wrong, or a part is not JSON. */
  decode(frames: Buffer[]): JupyterMessage {
    const at = frames.findIndex((frame) => frame.length === DELIMITER.length && frame.toString() === DELIMITER);
    if (at < 0 || frames.length < at + 6) throw new WireError('message without <IDS|MSG> delimiter or parts');
    const [signature, ...rest] = frames.slice(at + 1);
    const parts = rest.slice(0, 4);
    if (this.algorithm) {
      const expected = Buffer.from(this.sign(parts));
      if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) throw new WireError('message with a wrong signature');
    }
    try {
      const [header, parent, metadata, content] = parts.map((part) => JSON.parse(part.toString('utf8')) as unknown);
      return {
        identities: frames.slice(0, at),
        header: header as MessageHeader,
        parent_header: (parent ?? {}) as Partial<MessageHeader>,
        metadata: (metadata ?? {}) as Record<string, unknown>,
        content: (content ?? {}) as Record<string, unknown>,
        buffers: rest.slice(4),
      };
    } catch {
      throw new WireError('message part is not JSON');
    }
  }

  private sign(parts: Buffer[]): string {
    if (!this.algorithm) return '';
    const hmac = createHmac(this.algorithm, this.key);
    for (const part of parts) hmac.update(part);
    return hmac.digest('hex');
  }
}
