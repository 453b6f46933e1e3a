"""The SDK's code generator: models via datamodel-code-generator, operations via templates."""
