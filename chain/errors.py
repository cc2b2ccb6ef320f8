"""Typed chain errors: the runtime's error name plus a sentence telling the user what to do."""
from __future__ import annotations


class ChainError(Exception):
    """Base class. `name` is the runtime's error name (e.g. 'SettingWeightsTooFast') when known."""

    def __init__(self, message: str, *, name: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.name = name
        self.hint = hint


class ChainConnectionError(ChainError):
    """The chain could not be reached (after retries)."""


class ExtrinsicError(ChainError):
    """The runtime rejected an extrinsic (dispatch error, or a sudo inner error)."""


class NotRegisteredError(ExtrinsicError):
    pass


class RateLimitError(ExtrinsicError):
    pass


class PermissionError_(ExtrinsicError):
    """No validator permit, not the subnet owner, not sudo."""


class WeightsError(ExtrinsicError):
    """Weights rejected: too few, over the max weight limit, bad uids, wrong version key."""


class BalanceError(ExtrinsicError):
    """Not enough balance or stake."""


class UnsupportedError(ChainError):
    """The operation does not exist on this backend or runtime version."""


# Runtime error name -> (class, sentence telling the user what to do). Names are the subtensor
# pallet's own; the dev ledger raises the same names so both backends fail the same way.
_KNOWN: dict[str, tuple[type[ChainError], str]] = {
    "HotKeyNotRegisteredInSubNet": (NotRegisteredError, "the hotkey is not registered on this subnet: run `neuron register`"),
    "HotKeyAccountNotExists": (NotRegisteredError, "the hotkey is not registered anywhere: run `neuron register`"),
    "NotRegistered": (NotRegisteredError, "the hotkey is not registered on this subnet: run `neuron register`"),
    "HotKeyAlreadyRegisteredInSubNet": (ExtrinsicError, "the hotkey is already registered on this subnet"),
    "SubNetworkDoesNotExist": (ExtrinsicError, "no subnet with this netuid: check `--netuid` (create one with `neuron subnet create`)"),
    "NetworkDoesNotExist": (ExtrinsicError, "no subnet with this netuid: check `--netuid`"),
    "SettingWeightsTooFast": (RateLimitError, "weights set too recently: wait for the weights rate limit to pass"),
    "ServingRateLimitExceeded": (RateLimitError, "axon served too recently: wait for the serving rate limit"),
    "StakeRateLimitExceeded": (RateLimitError, "stake changed too recently for this hotkey: wait a few blocks"),
    "NetworkTxRateLimitExceeded": (RateLimitError, "subnets are created too fast: wait for the network rate limit"),
    "CommittingWeightsTooFast": (RateLimitError, "weights committed too recently: wait for the weights rate limit"),
    "TooManyUnrevealedCommits": (WeightsError, "too many unrevealed weight commits: reveal the pending ones first"),
    "InsufficientBalance": (BalanceError, "the balance is too low: fund the account first"),
    "TooManyRegistrationsThisBlock": (RateLimitError, "registration limit for this block reached: retry next block"),
    "TooManyRegistrationsThisInterval": (RateLimitError, "registration limit for this interval reached: retry later"),
    "NoValidatorPermit": (PermissionError_, "this hotkey has no validator permit: stake more and wait one epoch"),
    "NeuronNoValidatorPermit": (PermissionError_, "this hotkey has no validator permit: stake more and wait one epoch"),
    "NotSubnetOwner": (PermissionError_, "only the subnet owner (or sudo) may do this"),
    "BadOrigin": (PermissionError_, "the signer is not allowed to make this call (sudo / owner only)"),
    "RequireSudo": (PermissionError_, "this call needs the chain's sudo key"),
    "WeightVecNotEqualSize": (WeightsError, "uids and weights differ in length"),
    "WeightVecLengthIsLow": (WeightsError, "too few weights: set at least min_allowed_weights non-zero weights"),
    "NotSettingEnoughWeights": (WeightsError, "too few weights: set at least min_allowed_weights non-zero weights"),
    "MaxWeightExceeded": (WeightsError, "one weight is over max_weight_limit: spread the weights more"),
    "UidVecContainInvalidOne": (WeightsError, "a uid in the weights does not exist on this subnet"),
    "UidsLengthExceedUidsInSubNet": (WeightsError, "more weights than uids on the subnet"),
    "TooManyUids": (WeightsError, "more weights than uids on the subnet"),
    "DuplicateUids": (WeightsError, "a uid appears twice in the weights"),
    "WeightsNotU16": (WeightsError, "weights must be u16 values (0..65535): convert scores with chain.weights.scores_to_u16"),
    "IncorrectWeightVersionKey": (WeightsError, "the weights version key is below the subnet's: upgrade your validator"),
    "IncorrectNetworkVersionKey": (WeightsError, "the weights version key is below the subnet's: upgrade your validator"),
    "CommitRevealEnabled": (WeightsError, "this subnet uses commit-reveal: commit then reveal the weights"),
    "CommitRevealDisabled": (WeightsError, "commit-reveal is off on this subnet: set weights directly"),
    "NoWeightsCommitFound": (WeightsError, "no matching weights commit: commit first"),
    "InvalidRevealCommitHashNotMatch": (WeightsError, "the reveal does not match the commit (uids, weights, salt or version)"),
    "RevealTooEarly": (WeightsError, "too early to reveal: wait for the reveal period"),
    "ExpiredWeightCommit": (WeightsError, "the weights commit expired: commit again"),
    "NotEnoughBalanceToStake": (BalanceError, "the coldkey balance is too low: fund it first"),
    "NotEnoughBalance": (BalanceError, "the coldkey balance is too low: fund it first"),
    "NotEnoughStakeToWithdraw": (BalanceError, "not that much stake on this hotkey"),
    # spellings and names of the spec-148 runtime (May 2024)
    "NotEnoughStaketoWithdraw": (BalanceError, "not that much stake on this hotkey"),
    "NotEnoughStakeToSetWeights": (PermissionError_, "the hotkey has too little stake to set weights: stake more"),
    "BelowStakeThreshold": (PermissionError_, "the hotkey has too little stake for this: stake more"),
    "StakeTooLowForRoot": (BalanceError, "too little stake to join the root network: stake more"),
    "AlreadyRegistered": (ExtrinsicError, "the hotkey is already registered on this subnet"),
    "InvalidUid": (WeightsError, "a uid in the weights does not exist on this subnet"),
    "UnstakeRateLimitExceeded": (RateLimitError, "stake removed too recently for this hotkey: wait a few blocks"),
    "TxRateLimitExceeded": (RateLimitError, "transactions from this key are too frequent: wait a few blocks"),
    "RegistrationDisabled": (ExtrinsicError, "registration is disabled on this subnet"),
    "MaxAllowedUIdsNotAllowed": (ExtrinsicError, "max_allowed_uids can only be raised above the current number of uids"),
    "StorageValueOutOfRange": (ExtrinsicError, "the value is out of the range the runtime allows"),
    "InvalidTempo": (ExtrinsicError, "the tempo value is not allowed"),
    "NetworkExist": (ExtrinsicError, "a subnet with this netuid already exists"),
    "OperationNotPermittedonRootSubnet": (PermissionError_, "this operation is not allowed on the root network (netuid 0)"),
    "BalanceWithdrawalError": (BalanceError, "the coldkey balance is too low: fund it first"),
    "NonAssociatedColdKey": (PermissionError_, "this coldkey does not own the hotkey"),
    "InvalidIpAddress": (ExtrinsicError, "the axon IP is not allowed by the chain (the runtime rejects 127.0.0.1; use 127.0.0.2 or a public IP)"),
    "InvalidPort": (ExtrinsicError, "the axon port is invalid"),
    "SubNetRegistrationDisabled": (ExtrinsicError, "registration is disabled on this subnet"),
}


def error_from_name(name: str, detail: str = "") -> ChainError:
    """Build the typed error for a runtime error name (unknown names become a plain ExtrinsicError)."""
    cls, sentence = _KNOWN.get(name, (ExtrinsicError, "see the runtime's documentation for this error"))
    msg = f"{name}: {sentence}" + (f" ({detail})" if detail else "")
    return cls(msg, name=name, hint=sentence)
