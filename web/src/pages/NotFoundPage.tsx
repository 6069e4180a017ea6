import { Button, Stack, Text, Title } from '@mantine/core';
import { navigate } from '../router.tsx';

export function NotFoundPage() {
  return (
    <Stack align="flex-start" py="xl">
      <Title order={1} fz={24}>
        Nothing here
      </Title>
      <Text c="dimmed">This page does not exist, or your role does not include it.</Text>
      <Button variant="default" onClick={() => navigate('/')}>
        Go to the start page
      </Button>
    </Stack>
  );
}
