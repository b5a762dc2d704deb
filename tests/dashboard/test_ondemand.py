"""What the Sample page says about each on-demand method comes from the registry."""

from analysis.explain.registry import method_class
from dashboard import ondemand


def test_descriptions_come_from_the_method_classes():
    for method in ondemand.on_demand_methods():
        about = ondemand.describe(method)
        cls = method_class(method)
        assert about == {"label": cls.label, "about": cls.about, "display": cls.display, "cost": cls.cost}
        assert about["label"] and about["about"]
    assert ondemand.describe("integrated_gradients")["display"] == "signed"
    assert ondemand.describe("guided_backprop")["display"] == "magnitude"
