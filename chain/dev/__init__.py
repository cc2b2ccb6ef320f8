"""The dev ledger: an offline chain with subtensor's rules, persisted in one SQLite file.

Design. The ledger *is* the file: there is no server. Every process that opens `dev:PATH` gets its
own connection; SQLite's locking (WAL journal, BEGIN IMMEDIATE for writers, snapshot reads) lets
miners, validators and tools in separate processes share one chain safely. Each block is one
transaction (synchronous=FULL), so a kill -9 at any point loses no committed block.

Blocks are a pure function of the stored state and the block number, so any process can build
them and each is built exactly once (the builder holds the write lock and re-reads the head):
- block_time > 0 (a ledger made from a `dev:PATH` url: one block a second, ledger.DEFAULT_BLOCK_TIME;
  `dev:PATH?block_time=0.5`): the head follows the wall clock; whichever process touches the ledger
  first builds the blocks owed, and extrinsics land in the current block.
- block_time 0 (`dev:PATH?block_time=0`, or `DevChain(path)` in code): every extrinsic lands in a
  new block, like Chopsticks' instant mode; `advance_blocks(n)` builds empty blocks (tests).
New subnets get the local chain's hyperparameters (chain/local_subnet.py: tempo 10, no weights or
serving rate limit, registrations back to back).
Each block runs the spec-148 block step (chain/dev/blocks.py): the Yuma epoch (consensus.run_epoch,
spec148 variant, the runtime's fixed point) every tempo, results stored as the chain stores them
(u16, Active, Emission), emission paid as stake, and the epoch's inputs kept for `neuron audit`.
What the ledger does not model: fees, delegation/nominators, stake rate limits, burn adjustment,
the registration interval limit, the root network (every subnet gets `emission_per_block`), and
historical state (metagraph(block=…) only for the head).
"""
from chain.dev.ledger import DevChain

__all__ = ["DevChain"]
