"""Reinforcement-learning policies: DQN, PPO and A2C from stable-baselines3 (SB3), trained here on a gymnasium
environment (CartPole-v1 ships with gymnasium: nothing is downloaded), then exported as plain torch modules.

SB3's `policy(obs, deterministic=True)` does not export (dynamo fails on it), so the builder assembles the networks
the policy decides with into a small module: DQN's Q-network (observation -> Q values), PPO's and A2C's actor and
critic (observation -> action logits, state value). Its greedy action is checked against SB3's own prediction.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from deploybench.zoo.builders.base import Model

ALGORITHMS = {"dqn": "DQN", "ppo": "PPO", "a2c": "A2C"}
"""The algorithms built here, by recipe name, with their SB3 class."""

EVALUATION_SEED = 10_000
"""Seed of the evaluation episodes, away from the training and check seeds so that they are other episodes."""

CHECK_SEED = 20_000
"""Seed of the episodes of the checks made during training."""

CHECK_EPISODES = 10
"""Deterministic episodes per check made during training."""


def policy(
    shape: tuple[int, ...],
    algorithm: str,
    environment: str = "CartPole-v1",
    timesteps: int = 50_000,
    envs: int = 1,
    seed: int = 0,
    episodes: int = 20,
    stop_at: float | None = None,
    check_every: int = 5_000,
    net_arch: list[int] | None = None,
    **hyperparameters: Any,
) -> Model:
    """SB3's `algorithm` (dqn, ppo or a2c) with its MLP policy, trained for up to `timesteps` steps on `envs`
    seeded copies of `environment`, then evaluated on `episodes` deterministic episodes of other seeds.

    With `stop_at`, the policy is checked every `check_every` steps on episodes of its own; training stops once a
    check averages `stop_at`, else the best checked weights are kept: DQN's final policy can be far worse than the
    best it passed through. `net_arch` sets the hidden layers; `hyperparameters` go to the algorithm as they are.
    """
    import stable_baselines3
    import torch

    torch.set_num_threads(1)  # the networks are small: two threads contend and train several times slower
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}: one of {', '.join(ALGORITHMS)}")
    kind = getattr(stable_baselines3, ALGORITHMS[algorithm])
    agent = kind(
        "MlpPolicy",
        _environments(environment, envs, seed),
        seed=seed,
        device="cpu",
        policy_kwargs={"net_arch": list(net_arch)} if net_arch is not None else None,
        **hyperparameters,
    )
    training = _learn(agent, environment, timesteps, stop_at, check_every)
    module, outputs = _q_network(agent.policy) if algorithm == "dqn" else _actor_critic(agent.policy)
    module.eval()
    mean, std, observations = _evaluate(agent, environment, episodes)
    _check_actions(agent, module, observations)
    example = torch.as_tensor(observations[:1])
    if tuple(example.shape) != tuple(shape):
        raise ValueError(f"{environment} observations have shape {tuple(example.shape)}, the recipe says {shape}")
    weights = (
        f"trained here: {ALGORITHMS[algorithm]} (stable-baselines3 {stable_baselines3.__version__}) on gymnasium "
        f"{environment}, seed {seed}; {training}"
    )
    return Model(
        module=module,
        weights=weights,
        inputs={"observation": example},
        outputs=outputs,
        metrics={"mean_reward": mean, "std_reward": std},
        notes=(
            training,
            f"metrics: {episodes} deterministic episodes of {environment} seeded from {EVALUATION_SEED}; the "
            f"exported module's greedy action matched SB3's on all {len(observations)} observations met there",
            f"held-out rows: those {len(observations)} observations (x, no labels), episodes of other seeds than "
            "training's, for calibration and evaluation",
        ),
        data={"x": torch.as_tensor(observations)},
    )


def _environments(environment: str, count: int, seed: int) -> Any:
    """`count` copies of the environment, seeded from `seed`, vectorized in this process."""
    from stable_baselines3.common.env_util import make_vec_env

    return make_vec_env(environment, n_envs=count, seed=seed)


def _learn(agent: Any, environment: str, timesteps: int, stop_at: float | None, check_every: int) -> str:
    """Train the agent, checked on the way when `stop_at` is given; what happened, in words."""
    if stop_at is None:
        agent.learn(total_timesteps=timesteps)
        return f"trained {timesteps} steps"
    check = _checkpoints(_environments(environment, 1, CHECK_SEED), check_every, stop_at)
    agent.learn(total_timesteps=timesteps, callback=check)
    if check.best_state is None:
        return f"trained {agent.num_timesteps} steps, never checked"
    agent.policy.load_state_dict(check.best_state)
    checks = f"{CHECK_EPISODES} check episodes every {check_every} steps"
    if check.best_reward >= stop_at:
        return f"trained {check.best_step} steps: stopped when {checks} averaged {check.best_reward:.1f}"
    return (
        f"trained {agent.num_timesteps} steps, none of {checks} averaged {stop_at:g}: kept the weights of step "
        f"{check.best_step}, the best check ({check.best_reward:.1f})"
    )


def _checkpoints(env: Any, every: int, stop_at: float) -> Any:
    """A callback that checks the policy every `every` steps, keeps its best weights and stops training once a
    check averages `stop_at`."""
    import numpy as np
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy

    class Checkpoints(BaseCallback):  # type: ignore[misc]  # SB3 is not installed where mypy runs
        def __init__(self) -> None:
            super().__init__()
            self.due = every
            self.best_reward = -math.inf
            self.best_step = 0
            self.best_state: dict[str, Any] | None = None

        def _on_step(self) -> bool:
            if self.num_timesteps < self.due:
                return True
            self.due += every
            rewards, _ = evaluate_policy(
                self.model, env, n_eval_episodes=CHECK_EPISODES, deterministic=True, return_episode_rewards=True
            )
            reward = float(np.mean(rewards))
            if reward > self.best_reward:
                self.best_reward, self.best_step = reward, self.num_timesteps
                self.best_state = copy.deepcopy(self.model.policy.state_dict())
            return reward < stop_at

    return Checkpoints()


def _q_network(policy: Any) -> tuple[Any, tuple[str, ...]]:
    """An SB3 DQNPolicy's online Q-network as one module: observation -> Q values (the target network only
    serves training)."""
    import torch

    class QNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = policy.q_net.features_extractor
            self.q_net = policy.q_net.q_net

        def forward(self, observation: torch.Tensor) -> torch.Tensor:
            q_values: torch.Tensor = self.q_net(self.features(observation))
            return q_values

    return QNetwork(), ("q_values",)


def _actor_critic(policy: Any) -> tuple[Any, tuple[str, ...]]:
    """An SB3 ActorCriticPolicy's networks as one module: observation -> (action logits, state value)."""
    import torch

    class ActorCritic(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = policy.features_extractor
            self.mlp_extractor = policy.mlp_extractor
            self.action_net = policy.action_net
            self.value_net = policy.value_net

        def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            latent_pi, latent_vf = self.mlp_extractor(self.features(observation))
            return self.action_net(latent_pi), self.value_net(latent_vf)

    return ActorCritic(), ("logits", "value")


def _evaluate(agent: Any, environment: str, episodes: int) -> tuple[float, float, Any]:
    """Mean and std episode reward of the deterministic policy, and the observations its episodes met."""
    import numpy as np
    from stable_baselines3.common.evaluation import evaluate_policy

    seen: list[Any] = []
    rewards, _ = evaluate_policy(
        agent,
        _environments(environment, 1, EVALUATION_SEED),
        n_eval_episodes=episodes,
        deterministic=True,
        return_episode_rewards=True,
        callback=lambda local, _: seen.append(np.array(local["observations"], dtype=np.float32)),
    )
    return float(np.mean(rewards)), float(np.std(rewards)), np.concatenate(seen)


def _check_actions(agent: Any, module: Any, observations: Any) -> None:
    """Fail unless the module's greedy action is the action SB3's deterministic policy takes, observation by
    observation."""
    import numpy as np
    import torch

    expected, _ = agent.predict(observations, deterministic=True)
    with torch.no_grad():
        found = module(torch.as_tensor(observations))
    scores = found[0] if isinstance(found, tuple) else found
    differ = int(np.sum(scores.argmax(dim=1).numpy() != expected))
    if differ:
        raise RuntimeError(f"the exported module and SB3 disagree on {differ} of {len(observations)} observations")
