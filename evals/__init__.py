"""The scenario suite: YAML conversations run against the real agent, and judged.

``refund-agent eval`` runs it from the command line; from Python::

    from evals import load_scenarios, run_suite

    report = await run_suite(load_scenarios(), k=1)
    assert report.safe and report.pass_hat(1) == 1.0

See ``evals/README.md`` for the scenario format and the metrics. Natural-conversation
corpora (``evals/corpora/README.md``) run with a simulated customer::

    from evals import load_corpus, run_corpus

    corpus = load_corpus("my-corpus")
    report = await run_corpus(corpus.select(half="dev"), corpus=corpus.name)
    report.safe, report.halves["dev"].exact_rate
"""

from evals.corpus import Corpus, CorpusConversation, CorpusError, load_corpus
from evals.corpus_report import CorpusRecord, CorpusReport, Figures
from evals.corpus_runner import AgentFactory, CorpusAgent, run_corpus
from evals.customer import AgentTurn, SimulatedCustomer
from evals.report import ScenarioResult, SuiteReport, TrialResult, pass_hat
from evals.runner import (
    EvalSetupError,
    ServicesFactory,
    TrialEnv,
    default_services_factory,
    eval_settings,
    run_suite,
)
from evals.scenario import (
    Scenario,
    ScenarioError,
    default_scenarios_dir,
    load_scenario,
    load_scenarios,
    select_scenarios,
)
from evals.usage import Usage, UsageCounter

__all__ = [
    "AgentFactory",
    "AgentTurn",
    "Corpus",
    "CorpusAgent",
    "CorpusConversation",
    "CorpusError",
    "CorpusRecord",
    "CorpusReport",
    "EvalSetupError",
    "Figures",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "ServicesFactory",
    "SimulatedCustomer",
    "SuiteReport",
    "TrialEnv",
    "TrialResult",
    "Usage",
    "UsageCounter",
    "default_scenarios_dir",
    "default_services_factory",
    "eval_settings",
    "load_corpus",
    "load_scenario",
    "load_scenarios",
    "pass_hat",
    "run_corpus",
    "run_suite",
    "select_scenarios",
]
