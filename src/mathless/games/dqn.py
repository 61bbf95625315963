def train(agent, run, seed=0):
    raise NotImplementedError
