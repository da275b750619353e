// What `systemctl status derpd` shows an operator, and that a STATUS= line stays one assignment.
#include <gtest/gtest.h>

#include "relay/systemd/notifier.h"
#include "relay/systemd/status_line.h"

namespace derp::systemd {
namespace {

TEST(StatusLine, ServingCountsClientsAndMeshLinks) {
  NodeStatusFacts f;
  f.clients = 1;
  EXPECT_EQ(status_line(f), "serving 1 client");
  f.clients = 12;
  f.mesh_links = 2;
  f.mesh_links_up = 1;
  EXPECT_EQ(status_line(f), "serving 12 clients, mesh 1/2 links up");
}

TEST(StatusLine, DrainingSaysHowManyAreLeftAndWhetherItEndsInAnExit) {
  NodeStatusFacts f;
  f.clients = 50;
  f.drain = server::DrainState::kDraining;
  f.drain_remaining = 40;
  EXPECT_EQ(status_line(f), "draining, 40 clients left");
  f.shutting_down = true;
  EXPECT_EQ(status_line(f), "shutting down: draining, 40 clients left");
  f.shutting_down = false;
  f.drain = server::DrainState::kDrained;
  f.clients = 0;
  EXPECT_EQ(status_line(f), "drained (refusing new clients), 0 clients");
}

TEST(StatusLine, NewlinesCannotStartAnotherAssignment) {
  EXPECT_EQ(status_assignment("mesh derp2\nREADY=1"), "STATUS=mesh derp2 READY=1");
}

}  // namespace
}  // namespace derp::systemd
