"""What a run is: its configuration, its setting's identity, and the notebooks' parameters.

    conversion   text (papermill ``-p``, YAML, ``--set``) to each field's declared type (pydantic)
    training     ``TrainConfig``: one training run's every field, profiles, YAML and ``--set``
    settings     which fields make a setting (seeds and data locations do not), its id and name
    parameters   the notebooks' parameters, declared in their parameters cells, typed by pydantic
"""
