"""`python -m cli.fhir` (`make fhir-example`): regenerate docs/fhir-example-seed-000.json."""

from cli.fhir.example import main

if __name__ == "__main__":
    main()
