"""The rig's scenarios, in order, under one load through the balancer (``tests.harness.rig``)."""

import pytest

from tests.harness import rig

pytestmark = pytest.mark.rig


def test_a_rolling_deploy_of_version_2_fails_no_request(fleet, versions, scenario):
    """RollingWithAdditionalBatch, batch size 1: the answers switch from version 1 to version 2."""
    balancer, instances, extra = fleet
    outcome = scenario("a. rolling deploy of version 2",
                       lambda: rig.rolling_deploy(balancer, instances, extra(), versions["v2"]),
                       before="v1", after="v2")
    assert "never turned healthy" not in outcome.lines[0], outcome.lines[0]


def test_b_a_broken_deploy_stops_and_leaves_the_serving_instances_alone(fleet, versions, scenario):
    """A tampered model: the additional instance never turns healthy, the rollout stops, no request fails."""
    balancer, instances, extra = fleet
    outcome = scenario("b. deploy of a broken version",
                       lambda: rig.rolling_deploy(balancer, instances, extra(), versions["broken"]),
                       before="v2", after="v2")
    assert "never turned healthy" in outcome.lines[0], outcome.lines


def test_c_sigkill_of_one_instance_fails_only_requests_in_flight(fleet, versions, scenario):
    """The balancer takes it out within its checks; as the auto scaling group would, a new instance takes
    the dead one's place."""
    balancer, instances, _ = fleet
    scenario("c. SIGKILL of one instance under load", lambda: rig.kill_one(balancer, instances[1]),
             before="v2", after="v2")
    instances[1].start_nginx()
    instances[1].start_app(versions["v2"])
    assert instances[1].wait_healthy(), "the replacement instance did not turn healthy"
    balancer.register(instances[1])


def test_capacity_with_1_2_and_3_instances(fleet, load, one_row_body):
    """Figures: requests/s through the balancer as instances are added (after the load stops)."""
    balancer, instances, _ = fleet
    load.stop()
    lines = rig.capacity(balancer, instances, one_row_body)
    assert len(lines) == 1 + rig.INSTANCES, lines
