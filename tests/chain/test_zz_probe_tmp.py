from substrateinterface import Keypair
from chain.types import RAO_PER_TAO as TAO
from chain.errors import ChainError
K = Keypair.create_from_uri
ALICE, BOB = K("//Alice"), K("//Bob")

def test_probe(chain_backend):
    c = chain_backend
    netuid = c.create_subnet(BOB)
    print("n after create", c.metagraph(netuid).n, c.hyperparameters(netuid))
    for name, val in [("weights_rate_limit", 3), ("min_allowed_weights", 2), ("max_weight_limit", 40000),
                      ("weights_version", 4), ("commit_reveal_enabled", False), ("commit_reveal_period", 2),
                      ("activity_cutoff", 5000), ("immunity_period", 100), ("kappa", 30000),
                      ("bonds_moving_average", 900000), ("registration_allowed", True),
                      ("serving_rate_limit", 5), ("max_allowed_validators", 3), ("tempo", 9), ("max_allowed_uids", 100)]:
        try:
            c.set_hyperparameter(netuid, name, val, BOB)
            print("OWNER OK", name)
        except ChainError as e:
            print("OWNER NO", name, type(e).__name__, e.name)
    hot = K("//BobHot").ss58_address
    c.transfer(ALICE, hot, TAO)
    c.register(netuid, hot, BOB)
    b0 = c.balance(BOB.ss58_address)
    c.add_stake(BOB, hot, 100 * TAO, netuid)
    b1 = c.balance(BOB.ss58_address)
    s1 = c.stake(hot, None, netuid); s1c = c.stake(hot, BOB.ss58_address, netuid)
    print("spent", b0 - b1, "stake", s1, s1c, "price", c.alpha_price(netuid) if hasattr(c, "alpha_price") else 1)
    rm = s1 * 2 // 5
    c.remove_stake(BOB, hot, rm, netuid)
    b2 = c.balance(BOB.ss58_address)
    s2 = c.stake(hot, None, netuid)
    print("gained", b2 - b1, "rm", rm, "expect avg", rm * 100 * TAO // s1, "stake after", s2, s1 - rm, s2 - (s1 - rm))
    mg = c.metagraph(netuid)
    print("mg stake", mg.stake, mg.uids, mg.hotkeys)
    for amt in (s2 * 10, ):
        try:
            c.remove_stake(BOB, hot, amt, netuid)
        except ChainError as e:
            print("rm too much", type(e).__name__, e.name)
    try:
        c.add_stake(BOB, hot, 10**9 * TAO, netuid)
    except ChainError as e:
        print("add too much", type(e).__name__, e.name)
    try:
        c.add_stake(K("//Charlie"), hot, TAO, netuid)
    except ChainError as e:
        print("add charlie", type(e).__name__, e.name)
    print("stake end", c.stake(hot, None, netuid))
    assert False
