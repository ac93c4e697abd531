#!/usr/bin/python3
"""Modbus device simulator for Wharf's tests: Debian's pymodbus 3.0 server (nobody on the team wrote it),
over TCP on a loopback port (MBAP, or RTU frames with --rtu-over-tcp) or over RTU on a serial path (one end of a socat pty pair), with several unit ids.

Run with /usr/bin/python3 (the Debian interpreter that has python3-pymodbus). Control channel: one JSON object
per line on stdin, one JSON reply per line on stdout ({"ok": true, ...} or {"ok": false, "error": ...}).
The first line on stdout is {"ready": true, "port": N} (port only over TCP).

  {"op": "set", "unit": 1, "table": "hr"|"ir"|"co"|"di", "address": 0, "values": [..]}
  {"op": "get", "unit": 1, "table": "hr", "address": 0, "count": 2}
  {"op": "counts"}          requests seen per unit and function code: {"1": {"3": 4}}
  {"op": "writes"}          writes received from clients, in order: [[unit, fc, address, values], ...]
  {"op": "reset"}           counts and write log back to empty
  {"op": "holes", "unit": 1, "table": "hr", "addresses": [..]}  ranges touching these answer exception 0x02
  {"op": "ignore", "unit": 1, "table": "hr", "addresses": [..]}  writes there are logged and answered but not kept
  {"op": "fail", "unit": 1, "table": "hr", "addresses": [..]}   writes touching these answer exception 0x04 (not logged)
  {"op": "mute", "unit": 2, "on": true}   the unit hears requests (counted) but never answers
  {"op": "corrupt", "unit": 1, "count": 1}   next answers of the unit: RTU with a bad CRC, TCP with a wrong txn id
  {"op": "delay", "unit": 1, "ms": 300, "count": 1}   RTU: next answers of the unit sent that much later
  {"op": "stop"} / {"op": "start"}   TCP: the server closes its port / listens again on the same port;
                                     RTU: every unit falls silent / answers again (the pty stays open)
"""

import argparse
import asyncio
import json
import logging
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.factory import ServerDecoder
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.server.async_io import ModbusSerialServer, StartAsyncTcpServer

TABLES = {"co": 1, "di": 2, "hr": 3, "ir": 4}
WRITE_CODES = {5, 6, 15, 16}


class CountingSlave(ModbusSlaveContext):
    """A unit whose validate() (called once per request by every pymodbus request) counts the request."""

    def __init__(self, unit, sim, size):
        super().__init__(
            co=ModbusSequentialDataBlock(0, [0] * size),
            di=ModbusSequentialDataBlock(0, [0] * size),
            hr=ModbusSequentialDataBlock(0, [0] * size),
            ir=ModbusSequentialDataBlock(0, [0] * size),
            zero_mode=True,
        )
        self.unit = unit
        self.sim = sim
        self.holes = {k: set() for k in "cdhi"}
        self.ignored = {k: set() for k in "cdhi"}
        self.failing = {k: set() for k in "cdhi"}

    def validate(self, fc_as_hex, address, count=1):
        per_unit = self.sim.counts.setdefault(str(self.unit), {})
        per_unit[str(fc_as_hex)] = per_unit.get(str(fc_as_hex), 0) + 1
        holes = self.holes[self.decode(fc_as_hex)]
        if any(a in holes for a in range(address, address + count)):
            return False
        return super().validate(fc_as_hex, address, count)

    def setValues(self, fc_as_hex, address, values):
        if fc_as_hex in WRITE_CODES:
            table = self.decode(fc_as_hex)
            touched = range(address, address + len(values))
            if any(a in self.failing[table] for a in touched):
                # pymodbus answers an exception raised by the datastore with 0x04 (server device failure).
                raise RuntimeError("simulated device failure")
            self.sim.writes.append([self.unit, fc_as_hex, address, [int(v) for v in values]])
            if any(a in self.ignored[table] for a in touched):
                return  # a device that answers the write but does not take the value
        super().setValues(fc_as_hex, address, values)


class Simulator:
    def __init__(self, args):
        self.args = args
        self.counts = {}
        self.writes = []
        self.muted = set()
        self.corrupt = {}
        self.delays = {}
        self.silent = False
        self.units = {u: CountingSlave(u, self, args.size) for u in args.units}
        self.context = ModbusServerContext(slaves=self.units, single=False)
        self.server = None
        self.task = None
        self.port = args.port
        self.rtu_framer = ModbusRtuFramer(ServerDecoder())
        self.tcp_framer = ModbusSocketFramer(ServerDecoder())

    def manipulate(self, response):
        """pymodbus' response_manipulator: (message or bytes, skip_encoding)."""
        unit = response.unit_id
        if self.silent or unit in self.muted:
            return b"", True
        delay = self.delays.get(unit)
        if delay is not None and self.args.serial and delay[1] > 0:
            # A late answer: sent after the client has given up on it (RTU only: the pty is one line).
            self.delays[unit] = (delay[0], delay[1] - 1)
            packet = self.rtu_framer.buildPacket(response)
            transport = self.server.transport
            asyncio.get_event_loop().call_later(delay[0] / 1000, lambda: transport is not None and transport.write(packet))
            return b"", True
        left = self.corrupt.get(unit, 0)
        if left > 0:
            self.corrupt[unit] = left - 1
            if self.args.serial or self.args.rtu_over_tcp:
                packet = bytearray(self.rtu_framer.buildPacket(response))
                packet[-1] ^= 0xFF
                return bytes(packet), True
            response.transaction_id = (response.transaction_id + 1) & 0xFFFF
        return response, False

    async def start(self):
        if self.args.serial:
            if self.server is None:
                self.server = ModbusSerialServer(
                    self.context, framer=ModbusRtuFramer, port=self.args.serial, baudrate=self.args.baud,
                    ignore_missing_slaves=True, response_manipulator=self.manipulate,
                )
                await self.server.start()
            self.silent = False
            return
        self.server = await StartAsyncTcpServer(
            context=self.context, address=("127.0.0.1", self.port), defer_start=True,
            framer=ModbusRtuFramer if self.args.rtu_over_tcp else ModbusSocketFramer,
            allow_reuse_address=True, ignore_missing_slaves=True, response_manipulator=self.manipulate,
        )
        self.task = asyncio.create_task(self.server.serve_forever())
        await self.server.serving
        self.port = self.server.server.sockets[0].getsockname()[1]

    async def stop(self):
        if self.args.serial:
            self.silent = True
            return
        if self.server is not None:
            # server_close() only cancels the handlers' tasks: close their sockets too, as a device going away would.
            for handler in list(self.server.active_connections.values()):
                if handler.transport is not None:
                    handler.transport.abort()
            await self.server.server_close()
            self.server = None
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def command(self, cmd):
        op = cmd["op"]
        if op == "set":
            store = self.units[cmd["unit"]].store[cmd["table"][0]]
            store.setValues(cmd["address"], cmd["values"])
            return {}
        if op == "get":
            store = self.units[cmd["unit"]].store[cmd["table"][0]]
            return {"values": [int(v) for v in store.getValues(cmd["address"], cmd.get("count", 1))]}
        if op == "counts":
            return {"counts": self.counts}
        if op == "writes":
            return {"writes": self.writes}
        if op == "reset":
            self.counts = {}
            self.writes = []
            return {}
        if op == "holes":
            self.units[cmd["unit"]].holes[cmd["table"][0]] = set(cmd["addresses"])
            return {}
        if op in ("ignore", "fail"):
            unit = self.units[cmd["unit"]]
            (unit.ignored if op == "ignore" else unit.failing)[cmd["table"][0]] = set(cmd["addresses"])
            return {}
        if op == "mute":
            (self.muted.add if cmd.get("on", True) else self.muted.discard)(cmd["unit"])
            return {}
        if op == "corrupt":
            self.corrupt[cmd["unit"]] = cmd.get("count", 1)
            return {}
        if op == "delay":
            self.delays[cmd["unit"]] = (cmd["ms"], cmd.get("count", 1))
            return {}
        if op == "stop":
            await self.stop()
            return {}
        if op == "start":
            await self.start()
            return {"port": self.port}
        raise ValueError(f"unknown op {op}")


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--serial")
    parser.add_argument("--rtu-over-tcp", action="store_true", help="RTU frames (CRC, no MBAP) over the TCP port")
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--units", type=lambda s: [int(u) for u in s.split(",")], default=[1])
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    sim = Simulator(args)
    await sim.start()
    reply({"ready": True, "port": sim.port})
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        try:
            out = await sim.command(json.loads(line))
            reply({"ok": True, **out})
        except Exception as exc:  # noqa: BLE001 -- the test reads the reason
            reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    await sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
