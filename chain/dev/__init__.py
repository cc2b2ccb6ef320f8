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
serving rate limit, registrations back to back, commit-reveal on with a one-epoch reveal period).
Each block runs the block step (chain/dev/blocks.py): the Yuma epoch (consensus.run_epoch, variant
"current": today's rules, with Yuma3, liquid alpha and the bonds penalty as per-subnet hyperparameters)
every tempo, results stored as the chain stores them (u16, Active, Emission), emission paid as stake on
the subnet, and the epoch's inputs kept for `neuron audit`. Stake is per subnet, as on dTAO; stake
added without a netuid is root stake, which counts on every subnet at full weight (TaoWeight 1).
What the ledger does not model: fees, pools and prices (alpha is staked 1:1 for TAO), delegation/
nominators, stake rate limits, burn adjustment, the registration interval limit, root weights (every
subnet gets `emission_per_block`), and historical state (metagraph(block=…) only for the head).
"""
from chain.dev.ledger import DevChain

__all__ = ["DevChain"]
