"""Probabilities the insights explain: a logistic model fit on the firm's own history when there is enough
of it, otherwise a transparent points rule. Either way a `Score` names its method and its factors."""
