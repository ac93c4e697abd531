// Modbus PDUs (function code + data, no addressing or checksum) for the eight public function codes Wharf uses:
// requests built and responses checked against MODBUS Application Protocol Specification V1.1b3, sections 6.1-6.12
// (01, 02, 03, 04, 05, 06, 15, 16) and 7 (exception responses). No I/O: the transports frame these bytes.

export type Table = 'coil' | 'discrete_input' | 'holding_register' | 'input_register';

/** A read of `quantity` bits or registers starting at `address` on the wire (0-based, as in the PDU). */
export interface ReadRequest {
  unitId: number;
  table: Table;
  address: number;
  quantity: number;
}

/** A write (issue 15): one value -> 05/06, several consecutive values -> 15/16. Coils take 0/1, registers 0..65535. */
export interface WriteRequest {
  unitId: number;
  table: 'coil' | 'holding_register';
  address: number;
  values: readonly number[];
}

export type BadFrameReason = 'crc' | 'unit_id' | 'function_code' | 'byte_count' | 'transaction_id' | 'length';

/** What went wrong without a value: shared by reads and writes. */
export type FailedResult =
  | { kind: 'exception'; code: number }
  | { kind: 'timeout' }
  | { kind: 'bad_frame'; reason: BadFrameReason }
  | { kind: 'unavailable'; error: string };

export type ReadResult = { kind: 'ok'; registers: Uint16Array } | { kind: 'ok'; bits: Uint8Array } | FailedResult;
export type WriteResult = { kind: 'ok'; written: number } | FailedResult;

export const FunctionCode = {
  ReadCoils: 0x01,
  ReadDiscreteInputs: 0x02,
  ReadHoldingRegisters: 0x03,
  ReadInputRegisters: 0x04,
  WriteSingleCoil: 0x05,
  WriteSingleRegister: 0x06,
  WriteMultipleCoils: 0x0f,
  WriteMultipleRegisters: 0x10,
} as const;

/** Section 7: the server sets the high bit of the function code and sends one exception code byte. */
export const EXCEPTION_BIT = 0x80;

export const ExceptionCode = {
  IllegalFunction: 0x01,
  IllegalDataAddress: 0x02,
  IllegalDataValue: 0x03,
  ServerDeviceFailure: 0x04,
  Acknowledge: 0x05,
  ServerDeviceBusy: 0x06,
  MemoryParityError: 0x08,
  GatewayPathUnavailable: 0x0a,
  GatewayTargetFailedToRespond: 0x0b,
} as const;

/** Quantity limits per function code (sections 6.1-6.4, 6.11, 6.12): they keep every PDU within 253 bytes. */
export const MAX_READ_BITS = 2000;
export const MAX_READ_REGISTERS = 125;
export const MAX_WRITE_COILS = 1968;
export const MAX_WRITE_REGISTERS = 123;

const READ_FUNCTION: Record<Table, number> = {
  coil: FunctionCode.ReadCoils,
  discrete_input: FunctionCode.ReadDiscreteInputs,
  holding_register: FunctionCode.ReadHoldingRegisters,
  input_register: FunctionCode.ReadInputRegisters,
};

export function isWrite(req: ReadRequest | WriteRequest): req is WriteRequest {
  return 'values' in req;
}

export function isBitTable(table: Table): boolean {
  return table === 'coil' || table === 'discrete_input';
}

/** The function code a request goes out with. */
export function functionCodeOf(req: ReadRequest | WriteRequest): number {
  if (!isWrite(req)) return READ_FUNCTION[req.table];
  if (req.table === 'coil') return req.values.length === 1 ? FunctionCode.WriteSingleCoil : FunctionCode.WriteMultipleCoils;
  return req.values.length === 1 ? FunctionCode.WriteSingleRegister : FunctionCode.WriteMultipleRegisters;
}

/** The request PDU. A request outside the specification's ranges is a programming error: RangeError. */
export function encodeRequest(req: ReadRequest | WriteRequest): Buffer {
  checkAddress(req.address);
  return isWrite(req) ? encodeWrite(req) : encodeRead(req);
}

function encodeRead(req: ReadRequest): Buffer {
  const max = isBitTable(req.table) ? MAX_READ_BITS : MAX_READ_REGISTERS;
  checkQuantity(req.quantity, max, req.address);
  const pdu = Buffer.allocUnsafe(5);
  pdu[0] = READ_FUNCTION[req.table];
  pdu.writeUInt16BE(req.address, 1);
  pdu.writeUInt16BE(req.quantity, 3);
  return pdu;
}

function encodeWrite(req: WriteRequest): Buffer {
  const fc = functionCodeOf(req);
  const n = req.values.length;
  if (fc === FunctionCode.WriteSingleCoil || fc === FunctionCode.WriteSingleRegister) {
    const pdu = Buffer.allocUnsafe(5);
    pdu[0] = fc;
    pdu.writeUInt16BE(req.address, 1);
    // 6.5: ON is 0xFF00 and OFF 0x0000; any other value is illegal.
    pdu.writeUInt16BE(fc === FunctionCode.WriteSingleCoil ? (req.values[0] ? 0xff00 : 0x0000) : checkRegister(req.values[0]!), 3);
    return pdu;
  }
  if (fc === FunctionCode.WriteMultipleCoils) {
    checkQuantity(n, MAX_WRITE_COILS, req.address);
    const byteCount = Math.ceil(n / 8);
    const pdu = Buffer.alloc(6 + byteCount);
    pdu[0] = fc;
    pdu.writeUInt16BE(req.address, 1);
    pdu.writeUInt16BE(n, 3);
    pdu[5] = byteCount;
    // 6.11: the first coil is the least significant bit of the first data byte; unused high bits are zero.
    for (let i = 0; i < n; i++) if (req.values[i]) pdu[6 + (i >> 3)]! |= 1 << (i & 7);
    return pdu;
  }
  checkQuantity(n, MAX_WRITE_REGISTERS, req.address);
  const pdu = Buffer.allocUnsafe(6 + 2 * n);
  pdu[0] = fc;
  pdu.writeUInt16BE(req.address, 1);
  pdu.writeUInt16BE(n, 3);
  pdu[5] = 2 * n;
  for (let i = 0; i < n; i++) pdu.writeUInt16BE(checkRegister(req.values[i]!), 6 + 2 * i);
  return pdu;
}

/** Checks a response PDU against the request it answers and extracts its values. */
export function decodeReadResponse(req: ReadRequest, pdu: Uint8Array): ReadResult {
  const head = checkHead(functionCodeOf(req), pdu);
  if (head) return head;
  const bits = isBitTable(req.table);
  const expected = bits ? Math.ceil(req.quantity / 8) : 2 * req.quantity;
  if (pdu.length < 2 || pdu[1] !== expected) return { kind: 'bad_frame', reason: 'byte_count' };
  if (pdu.length !== 2 + expected) return { kind: 'bad_frame', reason: 'length' };
  if (bits) {
    const out = new Uint8Array(req.quantity);
    for (let i = 0; i < req.quantity; i++) out[i] = (pdu[2 + (i >> 3)]! >> (i & 7)) & 1;
    return { kind: 'ok', bits: out };
  }
  const out = new Uint16Array(req.quantity);
  for (let i = 0; i < req.quantity; i++) out[i] = (pdu[2 + 2 * i]! << 8) | pdu[3 + 2 * i]!;
  return { kind: 'ok', registers: out };
}

/** Sections 6.5, 6.6: an echo of the request; 6.11, 6.12: function code, address and quantity. */
export function decodeWriteResponse(req: WriteRequest, pdu: Uint8Array): WriteResult {
  const request = encodeWrite(req);
  const head = checkHead(request[0]!, pdu);
  if (head) return head;
  if (pdu.length !== 5) return { kind: 'bad_frame', reason: 'length' };
  for (let i = 1; i < 5; i++) if (pdu[i] !== request[i]) return { kind: 'bad_frame', reason: 'byte_count' };
  return { kind: 'ok', written: req.values.length };
}

/** An exception response, or a function code that belongs to another request, or nothing wrong (undefined). */
function checkHead(fc: number, pdu: Uint8Array): FailedResult | undefined {
  if (pdu.length === 0) return { kind: 'bad_frame', reason: 'length' };
  if (pdu[0] === (fc | EXCEPTION_BIT)) {
    return pdu.length === 2 ? { kind: 'exception', code: pdu[1]! } : { kind: 'bad_frame', reason: 'length' };
  }
  return pdu[0] === fc ? undefined : { kind: 'bad_frame', reason: 'function_code' };
}

/**
 * Length of the response PDU that starts with `head` (at least its first two bytes), for transports without a
 * silence between frames (RTU over TCP); undefined when more bytes are needed or the function code is unknown.
 */
export function responsePduLength(head: Uint8Array): number | undefined {
  if (head.length < 1) return undefined;
  const fc = head[0]!;
  if (fc & EXCEPTION_BIT) return 2;
  switch (fc) {
    case FunctionCode.ReadCoils:
    case FunctionCode.ReadDiscreteInputs:
    case FunctionCode.ReadHoldingRegisters:
    case FunctionCode.ReadInputRegisters:
      return head.length < 2 ? undefined : 2 + head[1]!;
    case FunctionCode.WriteSingleCoil:
    case FunctionCode.WriteSingleRegister:
    case FunctionCode.WriteMultipleCoils:
    case FunctionCode.WriteMultipleRegisters:
      return 5;
    default:
      return undefined;
  }
}

function checkAddress(address: number): void {
  if (!Number.isInteger(address) || address < 0 || address > 0xffff) throw new RangeError(`Modbus address ${address} outside 0..65535`);
}

function checkQuantity(quantity: number, max: number, address: number): void {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > max) throw new RangeError(`Modbus quantity ${quantity} outside 1..${max}`);
  if (address + quantity > 0x10000) throw new RangeError(`Modbus range ${address}+${quantity} ends beyond 65535`);
}

function checkRegister(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError(`register value ${value} outside 0..65535`);
  return value;
}
