# The example of the module's documentation: one enable away from working.
{
  interfaces = {
    wan.role = "upstream";
    lan.role = "downstream";
  };
}
